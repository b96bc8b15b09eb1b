package e2bserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/internal/envd/filesystem"
	"github.com/tta-dev/tta/e2b/internal/envd/process"
	"github.com/tta-dev/tta/e2b/wire"
)

func TestResolvePath(t *testing.T) {
	tests := []struct{ in, user, want string }{
		{"", "user", "/home/user"},
		{"~", "user", "/home/user"},
		{"~/a/b", "user", "/home/user/a/b"},
		{"a/../b.txt", "user", "/home/user/b.txt"},
		{"/tmp/x/", "user", "/tmp/x"},
		{"x", "root", "/root/x"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, resolvePath(tt.in, tt.user), tt.in)
	}
}

// upload posts body to /files with a content type and query.
func (e *testEnv) upload(id, query, contentType string, body []byte) *http.Response {
	e.t.Helper()
	req := newRequest(e.t, http.MethodPost, baseURL+"/files"+query, body)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(wire.HeaderSandboxID, id)
	req.Header.Set(wire.HeaderSandboxPort, strconv.Itoa(e2b.EnvdPort))
	return e.do(req)
}

func multipartBody(t *testing.T, files map[string]string, order []string) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, name := range order {
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, _ = w.Write([]byte(files[name]))
	}
	require.NoError(t, mw.Close())
	return buf.Bytes(), mw.FormDataContentType()
}

func TestFiles(t *testing.T) {
	e := newEnv(t, WithRuntime(&ScriptedRuntime{Files: map[string]string{"seed.txt": "seeded"}}))
	id := e.create(map[string]any{"templateID": "code-interpreter-v1"}).SandboxID
	download := func(query string) *http.Response {
		return e.sandbox(id, e2b.EnvdPort, http.MethodGet, "/files"+query, nil)
	}

	t.Run("octet-stream upload and download", func(t *testing.T) {
		resp := e.upload(id, "?path=data/x.txt", "application/octet-stream", []byte("hello\x00world"))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, []wire.FileEntry{{Name: "x.txt", Type: "file", Path: "/home/user/data/x.txt"}}, decodeJSON[[]wire.FileEntry](t, resp))
		for _, q := range []string{"?path=/home/user/data/x.txt", "?path=~/data/x.txt", "?path=data/x.txt&username=user"} {
			resp = download(q)
			require.Equal(t, http.StatusOK, resp.StatusCode, q)
			assert.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
			assert.Equal(t, "hello\x00world", readBody(t, resp))
		}
	})
	t.Run("multipart with file names", func(t *testing.T) {
		body, ct := multipartBody(t, map[string]string{"a.txt": "A", "/tmp/dir/b.bin": "B"}, []string{"a.txt", "/tmp/dir/b.bin"})
		resp := e.upload(id, "", ct, body)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, []wire.FileEntry{
			{Name: "a.txt", Type: "file", Path: "/home/user/a.txt"},
			{Name: "b.bin", Type: "file", Path: "/tmp/dir/b.bin"},
		}, decodeJSON[[]wire.FileEntry](t, resp))
		assert.Equal(t, "B", readBody(t, download("?path=/tmp/dir/b.bin")))
	})
	t.Run("multipart with path", func(t *testing.T) {
		body, ct := multipartBody(t, map[string]string{"ignored.txt": "P"}, []string{"ignored.txt"})
		resp := e.upload(id, "?path=/root/p.txt&username=root", ct, body)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "/root/p.txt", decodeJSON[[]wire.FileEntry](t, resp)[0].Path)
		assert.Equal(t, "P", readBody(t, download("?path=p.txt&username=root")))
	})
	t.Run("seeded file", func(t *testing.T) {
		assert.Equal(t, "seeded", readBody(t, download("?path=seed.txt")))
	})

	errs := []struct {
		name string
		resp func() *http.Response
		want int
		msg  string
	}{
		{"missing", func() *http.Response { return download("?path=nope.txt") }, 404, "path '/home/user/nope.txt' does not exist"},
		{"directory", func() *http.Response { return download("?path=/tmp") }, 400, "path '/tmp' is a directory"},
		{"home by default", func() *http.Response { return download("") }, 400, "path '/home/user' is a directory"},
		{"unknown user", func() *http.Response { return download("?path=x&username=bob") }, 401, "error looking up user 'bob': user: unknown user bob"},
		{"octet-stream without path", func() *http.Response {
			return e.upload(id, "", "application/octet-stream", []byte("x"))
		}, 400, "the 'path' query parameter is required for an application/octet-stream upload"},
		{"upload onto a directory", func() *http.Response {
			return e.upload(id, "?path=/tmp", "application/octet-stream", []byte("x"))
		}, 400, "write /tmp: invalid argument"},
		{"same path twice", func() *http.Response {
			body, ct := multipartBody(t, map[string]string{"d.txt": "1"}, []string{"d.txt", "d.txt"})
			return e.upload(id, "", ct, body)
		}, 400, "you cannot upload multiple files to the same path '/home/user/d.txt' in one upload request, only the first specified file was uploaded"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			resp := tt.resp()
			assert.Equal(t, tt.want, resp.StatusCode)
			assert.Equal(t, wire.ErrorBody{Code: tt.want, Message: tt.msg}, decodeJSON[wire.ErrorBody](t, resp))
		})
	}
}

func TestFilesystemRPC(t *testing.T) {
	for _, codec := range []string{"json", "proto"} {
		t.Run(codec, func(t *testing.T) {
			e := newEnv(t)
			id := e.create(map[string]any{"templateID": "code-interpreter-v1"}).SandboxID
			_, fs := e.envdClients(id, codec == "json", nil)
			ctx := t.Context()

			mk, err := fs.MakeDir(ctx, connect.NewRequest(&filesystem.MakeDirRequest{Path: "proj/src"}))
			require.NoError(t, err)
			assert.Equal(t, "/home/user/proj/src", mk.Msg.GetEntry().GetPath())
			assert.Equal(t, filesystem.FileType_FILE_TYPE_DIRECTORY, mk.Msg.GetEntry().GetType())
			_, err = fs.MakeDir(ctx, connect.NewRequest(&filesystem.MakeDirRequest{Path: "/home/user/proj/src"}))
			assert.Equal(t, connect.CodeAlreadyExists, connect.CodeOf(err))

			require.Equal(t, http.StatusOK, e.upload(id, "?path=proj/src/main.py", "application/octet-stream", []byte("print(1)")).StatusCode)
			require.Equal(t, http.StatusOK, e.upload(id, "?path=proj/README", "application/octet-stream", []byte("r")).StatusCode)

			st, err := fs.Stat(ctx, connect.NewRequest(&filesystem.StatRequest{Path: "proj/src/main.py"}))
			require.NoError(t, err)
			entry := st.Msg.GetEntry()
			assert.Equal(t, "main.py", entry.GetName())
			assert.Equal(t, int64(8), entry.GetSize())
			assert.Equal(t, filesystem.FileType_FILE_TYPE_FILE, entry.GetType())
			assert.Equal(t, "-rw-r--r--", entry.GetPermissions())
			assert.Equal(t, "user", entry.GetOwner())
			assert.NotNil(t, entry.GetModifiedTime())

			names := func(depth uint32) []string {
				ls, err := fs.ListDir(ctx, connect.NewRequest(&filesystem.ListDirRequest{Path: "proj", Depth: depth}))
				require.NoError(t, err)
				var out []string
				for _, en := range ls.Msg.GetEntries() {
					out = append(out, en.GetPath())
				}
				return out
			}
			assert.Equal(t, []string{"/home/user/proj/src", "/home/user/proj/README"}, names(0), "depth 0 means 1; directories first")
			assert.Equal(t, []string{"/home/user/proj/src", "/home/user/proj/src/main.py", "/home/user/proj/README"}, names(2))

			mv, err := fs.Move(ctx, connect.NewRequest(&filesystem.MoveRequest{Source: "proj/src", Destination: "/tmp/moved/src"}))
			require.NoError(t, err)
			assert.Equal(t, "/tmp/moved/src", mv.Msg.GetEntry().GetPath())
			_, err = fs.Stat(ctx, connect.NewRequest(&filesystem.StatRequest{Path: "/tmp/moved/src/main.py"}))
			require.NoError(t, err)

			_, err = fs.Remove(ctx, connect.NewRequest(&filesystem.RemoveRequest{Path: "/tmp/moved"}))
			require.NoError(t, err)
			_, err = fs.Stat(ctx, connect.NewRequest(&filesystem.StatRequest{Path: "/tmp/moved/src/main.py"}))
			assert.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
			_, err = fs.Remove(ctx, connect.NewRequest(&filesystem.RemoveRequest{Path: "/tmp/moved"}))
			assert.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
			_, err = fs.ListDir(ctx, connect.NewRequest(&filesystem.ListDirRequest{Path: "proj/README"}))
			assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
			_, err = fs.ListDir(ctx, connect.NewRequest(&filesystem.ListDirRequest{Path: "nope"}))
			assert.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
		})
	}
}

// startCommand runs cmd as E2B's SDKs do: /bin/bash -l -c cmd.
func startCommand(cmd string) *connect.Request[process.StartRequest] {
	stdin := false
	return connect.NewRequest(&process.StartRequest{
		Process: &process.ProcessConfig{Cmd: "/bin/bash", Args: []string{"-l", "-c", cmd}, Envs: map[string]string{"X": "1"}},
		Stdin:   &stdin,
	})
}

// drain collects a Start stream as "start", "out:..", "err:..", "keepalive",
// "end:<code>:<exited>:<status>" strings.
func drain(t *testing.T, stream *connect.ServerStreamForClient[process.StartResponse]) ([]string, error) {
	t.Helper()
	var got []string
	for stream.Receive() {
		ev := stream.Msg().GetEvent()
		switch {
		case ev.GetStart() != nil:
			got = append(got, "start")
		case ev.GetData() != nil:
			if out := ev.GetData().GetStdout(); out != nil {
				got = append(got, "out:"+string(out))
			} else {
				got = append(got, "err:"+string(ev.GetData().GetStderr()))
			}
		case ev.GetKeepalive() != nil:
			got = append(got, "keepalive")
		case ev.GetEnd() != nil:
			end := ev.GetEnd()
			got = append(got, "end:"+strconv.Itoa(int(end.GetExitCode()))+":"+strconv.FormatBool(end.GetExited())+":"+end.GetStatus())
		}
	}
	return got, stream.Err()
}

func TestProcessStart(t *testing.T) {
	rt := &ScriptedRuntime{
		Commands: map[string]CommandReply{
			"pip install torch": {Stdout: "Installing...\n", Stderr: "warning\n"},
			"exit 3":            {ExitCode: 3},
		},
		Command: func(ctx context.Context, c *Command) (int, error) {
			if err := c.Stdout(c.Line + "|" + c.EnvVars["X"] + c.EnvVars["S"]); err != nil {
				return 0, err
			}
			return 0, nil
		},
	}
	for _, codec := range []string{"json", "proto"} {
		t.Run(codec, func(t *testing.T) {
			e := newEnv(t, WithRuntime(rt))
			id := e.create(map[string]any{"templateID": "base", "envVars": map[string]string{"S": "s"}}).SandboxID
			proc, _ := e.envdClients(id, codec == "json", nil)
			tests := []struct {
				cmd  string
				want []string
			}{
				{"pip install torch", []string{"start", "out:Installing...\n", "err:warning\n", "end:0:true:exit status 0"}},
				{"exit 3", []string{"start", "end:3:true:exit status 3"}},
				{"echo $X", []string{"start", "out:echo $X|1s", "end:0:true:exit status 0"}},
			}
			for _, tt := range tests {
				stream, err := proc.Start(t.Context(), startCommand(tt.cmd))
				require.NoError(t, err)
				got, err := drain(t, stream)
				require.NoError(t, err)
				assert.Equal(t, tt.want, got, tt.cmd)
			}
		})
	}
	t.Run("connect+json on the wire", func(t *testing.T) {
		e := newEnv(t, WithRuntime(rt))
		id := e.create(map[string]any{"templateID": "base"}).SandboxID
		body := `{"process":{"cmd":"/bin/bash","args":["-l","-c","exit 3"],"envs":{}},"stdin":false}`
		var frame bytes.Buffer
		frame.WriteByte(0)
		frame.Write([]byte{0, 0, 0, byte(len(body))})
		frame.WriteString(body)
		req := newRequest(t, http.MethodPost, baseURL+"/process.Process/Start", frame.Bytes())
		req.Header.Set("Content-Type", "application/connect+json")
		req.Header.Set("Connect-Protocol-Version", "1")
		req.Header.Set(wire.HeaderSandboxID, id)
		req.Header.Set(wire.HeaderSandboxPort, strconv.Itoa(e2b.EnvdPort))
		resp := e.do(req)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "application/connect+json", resp.Header.Get("Content-Type"))
		raw := []byte(readBody(t, resp))
		var frames []string
		var flags []byte
		for len(raw) >= 5 {
			n := int(binary.BigEndian.Uint32(raw[1:5]))
			require.LessOrEqual(t, 5+n, len(raw))
			flags = append(flags, raw[0])
			frames = append(frames, string(raw[5:5+n]))
			raw = raw[5+n:]
		}
		assert.Empty(t, raw)
		require.Len(t, frames, 3)
		assert.Equal(t, []byte{0, 0, 2}, flags, "two messages, then the end-of-stream frame")
		assert.JSONEq(t, `{"event":{"start":{"pid":100}}}`, frames[0])
		assert.JSONEq(t, `{"event":{"end":{"exitCode":3,"exited":true,"status":"exit status 3"}}}`, frames[1])
		assert.JSONEq(t, `{}`, frames[2])
	})
}

func TestProcessSignalAndList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &ScriptedRuntime{Command: func(ctx context.Context, c *Command) (int, error) {
			if err := c.Stdout("serving\n"); err != nil {
				return 0, err
			}
			return 0, c.Sleep(time.Hour)
		}}
		e := newEnv(t, WithRuntime(rt))
		id := e.create(map[string]any{"templateID": "base", "timeout": 7200}).SandboxID
		proc, _ := e.envdClients(id, true, nil)

		for _, tt := range []struct {
			sig  process.Signal
			want string
			tag  bool
		}{
			{process.Signal_SIGNAL_SIGKILL, "end:-1:false:signal: killed", false},
			{process.Signal_SIGNAL_SIGTERM, "end:-1:false:signal: terminated", true},
		} {
			req := startCommand("python -m http.server")
			tag := "server"
			req.Msg.Tag = &tag
			stream, err := proc.Start(t.Context(), req)
			require.NoError(t, err)
			require.True(t, stream.Receive())
			pid := stream.Msg().GetEvent().GetStart().GetPid()
			require.NotZero(t, pid)

			list, err := proc.List(t.Context(), connect.NewRequest(&process.ListRequest{}))
			require.NoError(t, err)
			require.Len(t, list.Msg.GetProcesses(), 1)
			assert.Equal(t, pid, list.Msg.GetProcesses()[0].GetPid())
			assert.Equal(t, "server", list.Msg.GetProcesses()[0].GetTag())
			assert.Equal(t, []string{"-l", "-c", "python -m http.server"}, list.Msg.GetProcesses()[0].GetConfig().GetArgs())

			time.Sleep(time.Minute)
			sel := &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: pid}}
			if tt.tag {
				sel = &process.ProcessSelector{Selector: &process.ProcessSelector_Tag{Tag: "server"}}
			}
			_, err = proc.SendSignal(t.Context(), connect.NewRequest(&process.SendSignalRequest{Process: sel, Signal: tt.sig}))
			require.NoError(t, err)
			got, err := drain(t, stream)
			require.NoError(t, err)
			assert.Equal(t, []string{"out:serving\n", tt.want}, got)
		}

		_, err := proc.SendSignal(t.Context(), connect.NewRequest(&process.SendSignalRequest{
			Process: &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: 999}}, Signal: process.Signal_SIGNAL_SIGKILL}))
		assert.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	})
}

func TestProcessKeepalive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &ScriptedRuntime{Commands: map[string]CommandReply{"sleep 25": {Duration: 25 * time.Second}}}
		e := newEnv(t, WithRuntime(rt))
		id := e.create(map[string]any{"templateID": "base", "timeout": 300}).SandboxID
		proc, _ := e.envdClients(id, true, http.Header{wire.HeaderKeepalivePing: {"10"}})
		stream, err := proc.Start(t.Context(), startCommand("sleep 25"))
		require.NoError(t, err)
		got, err := drain(t, stream)
		require.NoError(t, err)
		assert.Equal(t, []string{"start", "keepalive", "keepalive", "end:0:true:exit status 0"}, got)
	})
}

func TestProcessStreamCutWhenSandboxDies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &ScriptedRuntime{Commands: map[string]CommandReply{"sleep 60": {Duration: 60 * time.Second}}}
		e := newEnv(t, WithRuntime(rt))
		id := e.create(map[string]any{"templateID": "base", "timeout": 5}).SandboxID
		proc, _ := e.envdClients(id, false, nil)
		stream, err := proc.Start(t.Context(), startCommand("sleep 60"))
		require.NoError(t, err)
		got, err := drain(t, stream)
		assert.Error(t, err, "no end event, the connection drops")
		assert.Equal(t, []string{"start"}, got)
	})
}

func TestProcessErrors(t *testing.T) {
	e := newEnv(t)
	id := e.create(map[string]any{"templateID": "base"}).SandboxID
	proc, _ := e.envdClients(id, true, nil)
	stream, err := proc.Start(t.Context(), connect.NewRequest(&process.StartRequest{}))
	require.NoError(t, err)
	_, err = drain(t, stream)
	assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	_, err = proc.SendSignal(t.Context(), connect.NewRequest(&process.SendSignalRequest{
		Process: &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: 1}}}))
	assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "unspecified signal")
}
