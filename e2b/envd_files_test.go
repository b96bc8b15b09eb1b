package e2b

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tta-dev/tta/e2b/internal/envd/filesystem"
	"github.com/tta-dev/tta/e2b/internal/envd/filesystem/filesystemconnect"

	"github.com/tta-dev/tta/e2b/wire"
)

func TestEnvdHealth(t *testing.T) {
	rec := &recorder{status: http.StatusNoContent}
	c := newTestClient(t, rec)
	require.NoError(t, testSandbox(c, true).EnvdHealth(context.Background()))
	got := rec.only(t)
	assert.Equal(t, http.MethodGet, got.Method)
	assert.Equal(t, "/health", got.Path)
	assert.Equal(t, "49983", got.Header.Get(wire.HeaderSandboxPort))
	assert.Equal(t, testEnvdToken, got.Header.Get(wire.HeaderAccessToken))
}

func TestReadFile(t *testing.T) {
	rec := &recorder{status: http.StatusOK, header: map[string]string{"Content-Type": "application/octet-stream"}, body: "hello\x00world"}
	c := newTestClient(t, rec)
	data, err := testSandbox(c, true).ReadFile(context.Background(), "/home/user/a b.txt")
	require.NoError(t, err)
	assert.Equal(t, []byte("hello\x00world"), data)
	got := rec.only(t)
	assert.Equal(t, http.MethodGet, got.Method)
	assert.Equal(t, "/files", got.Path)
	assert.Equal(t, "path=%2Fhome%2Fuser%2Fa+b.txt", got.RawQuery)
	assert.Equal(t, "49983", got.Header.Get(wire.HeaderSandboxPort))
	assert.Equal(t, testEnvdToken, got.Header.Get(wire.HeaderAccessToken))
}

func TestReadFileErrors(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusNotFound, body: `{"code":404,"message":"path '/x' does not exist"}`})
	sbx := testSandbox(c, false)
	_, err := sbx.ReadFile(context.Background(), "/x")
	require.ErrorIs(t, err, ErrNotFound)
	assert.NotErrorIs(t, err, ErrSandboxNotFound, "a missing file is not a missing sandbox")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "path '/x' does not exist", apiErr.Message)
	assert.Equal(t, EnvdPort, apiErr.Port)

	_, err = sbx.ReadFile(context.Background(), "")
	assert.ErrorContains(t, err, "empty path")
}

func TestWriteFileSendsMultipart(t *testing.T) {
	var (
		mu       sync.Mutex
		gotPath  string
		gotName  string
		gotField string
		gotData  []byte
		gotType  string
	)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		gotPath = r.URL.Query().Get("path")
		mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		gotType = mediaType
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		part, err := mr.NextPart()
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, disposition, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		gotField, gotName = part.FormName(), disposition["filename"]
		gotData, _ = io.ReadAll(part)
		_, _ = io.WriteString(w, `[{"name":"data.bin","type":"file","path":"/home/user/dir/data.bin"}]`)
	})
	c := newTestClient(t, h)
	payload := []byte(strings.Repeat("0123456789", 100_000))
	entry, err := testSandbox(c, false).WriteFile(context.Background(), "/home/user/dir/data.bin", payload)
	require.NoError(t, err)
	assert.Equal(t, FileEntry{Name: "data.bin", Type: "file", Path: "/home/user/dir/data.bin"}, entry)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "multipart/form-data", gotType)
	assert.Equal(t, "/home/user/dir/data.bin", gotPath)
	assert.Equal(t, "file", gotField)
	assert.Equal(t, "/home/user/dir/data.bin", gotName)
	assert.Equal(t, payload, gotData)
}

func TestWriteFileEmptyAnswerAndErrors(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusOK, body: `[]`})
	entry, err := testSandbox(c, false).WriteFile(context.Background(), "notes/a.txt", []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, FileEntry{Name: "a.txt", Type: "file", Path: "notes/a.txt"}, entry)

	c = newTestClient(t, &recorder{status: http.StatusInsufficientStorage, body: `{"code":507,"message":"not enough disk space available"}`})
	_, err = testSandbox(c, false).WriteFile(context.Background(), "a.txt", []byte("x"))
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 507, apiErr.StatusCode)
	assert.False(t, apiErr.Transient())
}

// fakeFilesystem is a small in-memory filesystem.Filesystem.
type fakeFilesystem struct {
	filesystemconnect.UnimplementedFilesystemHandler

	mu      sync.Mutex // protects the fields below
	dirs    map[string]bool
	removed []string
	headers http.Header
}

var modTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func (f *fakeFilesystem) entry(path string, typ filesystem.FileType) *filesystem.EntryInfo {
	target := "/etc/target"
	return &filesystem.EntryInfo{
		Name: path[strings.LastIndex(path, "/")+1:], Type: typ, Path: path, Size: 42, Mode: uint32(fs.ModeDir | 0o755),
		Permissions: "drwxr-xr-x", Owner: "user", Group: "user", ModifiedTime: timestamppb.New(modTime),
		SymlinkTarget: &target, Metadata: map[string]string{"k": "v"},
	}
}

func (f *fakeFilesystem) Stat(ctx context.Context, req *connect.Request[filesystem.StatRequest]) (*connect.Response[filesystem.StatResponse], error) {
	if req.Msg.GetPath() == "/slow" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.headers = req.Header().Clone()
	switch req.Msg.GetPath() {
	case "/missing":
		return nil, connect.NewError(connect.CodeNotFound, errors.New("path '/missing' does not exist"))
	case "/denied":
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("permission denied"))
	case "/busy":
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("try later"))
	}
	return connect.NewResponse(&filesystem.StatResponse{Entry: f.entry(req.Msg.GetPath(), filesystem.FileType_FILE_TYPE_DIRECTORY)}), nil
}

func (f *fakeFilesystem) ListDir(_ context.Context, req *connect.Request[filesystem.ListDirRequest]) (*connect.Response[filesystem.ListDirResponse], error) {
	if req.Msg.GetDepth() != 1 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("depth must be 1"))
	}
	p := req.Msg.GetPath()
	return connect.NewResponse(&filesystem.ListDirResponse{Entries: []*filesystem.EntryInfo{
		f.entry(p+"/a.txt", filesystem.FileType_FILE_TYPE_FILE),
		f.entry(p+"/sub", filesystem.FileType_FILE_TYPE_DIRECTORY),
		f.entry(p+"/link", filesystem.FileType_FILE_TYPE_SYMLINK),
	}}), nil
}

func (f *fakeFilesystem) MakeDir(_ context.Context, req *connect.Request[filesystem.MakeDirRequest]) (*connect.Response[filesystem.MakeDirResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dirs[req.Msg.GetPath()] {
		return nil, connect.NewError(connect.CodeAlreadyExists, errors.New("directory exists"))
	}
	f.dirs[req.Msg.GetPath()] = true
	return connect.NewResponse(&filesystem.MakeDirResponse{Entry: f.entry(req.Msg.GetPath(), filesystem.FileType_FILE_TYPE_DIRECTORY)}), nil
}

func (f *fakeFilesystem) Remove(_ context.Context, req *connect.Request[filesystem.RemoveRequest]) (*connect.Response[filesystem.RemoveResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, req.Msg.GetPath())
	return connect.NewResponse(&filesystem.RemoveResponse{}), nil
}

func (f *fakeFilesystem) Move(_ context.Context, req *connect.Request[filesystem.MoveRequest]) (*connect.Response[filesystem.MoveResponse], error) {
	if req.Msg.GetSource() == "/missing" {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such file"))
	}
	return connect.NewResponse(&filesystem.MoveResponse{Entry: f.entry(req.Msg.GetDestination(), filesystem.FileType_FILE_TYPE_FILE)}), nil
}

// envdServer serves the given Connect handlers and records each request's
// content type.
func envdServer(t *testing.T, fsys *fakeFilesystem, proc *fakeProcess) (*Client, *sync.Map) {
	t.Helper()
	mux := http.NewServeMux()
	if fsys != nil {
		mux.Handle(filesystemconnect.NewFilesystemHandler(fsys))
	}
	if proc != nil {
		mux.Handle(processconnectHandler(proc))
	}
	contentTypes := &sync.Map{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		contentTypes.Store(r.URL.Path, r.Header.Get("Content-Type"))
		mux.ServeHTTP(w, r)
	})
	return newTestClient(t, h), contentTypes
}

func TestFilesystemCalls(t *testing.T) {
	fsys := &fakeFilesystem{dirs: map[string]bool{}}
	c, contentTypes := envdServer(t, fsys, nil)
	sbx := testSandbox(c, true)
	ctx := context.Background()

	info, err := sbx.Stat(ctx, "/home/user")
	require.NoError(t, err)
	assert.Equal(t, EntryInfo{
		Name: "user", Type: FileTypeDir, Path: "/home/user", Size: 42, Mode: fs.ModeDir | 0o755, Permissions: "drwxr-xr-x",
		Owner: "user", Group: "user", ModifiedTime: modTime, SymlinkTarget: "/etc/target", Metadata: map[string]string{"k": "v"},
	}, *info)
	fsys.mu.Lock()
	assert.Equal(t, testEnvdToken, fsys.headers.Get(wire.HeaderAccessToken))
	assert.Equal(t, "sbx1", fsys.headers.Get(wire.HeaderSandboxID))
	assert.Equal(t, "49983", fsys.headers.Get(wire.HeaderSandboxPort))
	fsys.mu.Unlock()
	ct, _ := contentTypes.Load("/filesystem.Filesystem/Stat")
	assert.Equal(t, "application/json", ct, "the JSON codec, as the JS SDK")

	entries, err := sbx.ListDir(ctx, "/home/user")
	require.NoError(t, err)
	require.Len(t, entries, 3)
	assert.Equal(t, []FileType{FileTypeFile, FileTypeDir, FileTypeSymlink}, []FileType{entries[0].Type, entries[1].Type, entries[2].Type})
	assert.Equal(t, "/home/user/a.txt", entries[0].Path)

	created, err := sbx.MakeDir(ctx, "/home/user/new")
	require.NoError(t, err)
	assert.True(t, created)
	created, err = sbx.MakeDir(ctx, "/home/user/new")
	require.NoError(t, err)
	assert.False(t, created, "already exists")

	require.NoError(t, sbx.Remove(ctx, "/home/user/old"))
	fsys.mu.Lock()
	assert.Equal(t, []string{"/home/user/old"}, fsys.removed)
	fsys.mu.Unlock()

	moved, err := sbx.Move(ctx, "/home/user/a", "/home/user/b")
	require.NoError(t, err)
	assert.Equal(t, "/home/user/b", moved.Path)
	assert.Equal(t, FileTypeFile, moved.Type)
}

func TestFilesystemErrors(t *testing.T) {
	fsys := &fakeFilesystem{dirs: map[string]bool{}}
	c, _ := envdServer(t, fsys, nil)
	sbx := testSandbox(c, false)
	ctx := context.Background()

	_, err := sbx.Stat(ctx, "/missing")
	require.ErrorIs(t, err, ErrNotFound)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 404, apiErr.StatusCode)
	assert.Equal(t, "path '/missing' does not exist", apiErr.Message)
	assert.Equal(t, "stat", apiErr.Op)
	assert.False(t, apiErr.Transient())

	_, err = sbx.Stat(ctx, "/denied")
	assert.ErrorIs(t, err, ErrUnauthorized)

	_, err = sbx.Stat(ctx, "/busy")
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.True(t, apiErr.Transient())

	_, err = sbx.Move(ctx, "/missing", "/x")
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestFilesystemProxyAnswers(t *testing.T) {
	tests := append(slices.Clone(envdProxyAnswers), []envdAnswer{
		{"plain 401", 401, `unauthorized access, please provide a valid access token`, ErrUnauthorized},
		{"JSON 401", 401, `{"code":401,"message":"invalid access token"}`, ErrUnauthorized},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, &recorder{status: tt.status, body: tt.body})
			_, err := testSandbox(c, false).Stat(context.Background(), "/home/user")
			require.ErrorIs(t, err, tt.want)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, "stat", apiErr.Op)
			assert.Equal(t, tt.status, apiErr.StatusCode)
			if tt.want == ErrPortNotOpen {
				assert.Equal(t, EnvdPort, apiErr.Port)
				assert.True(t, apiErr.Transient())
			}
		})
	}
}

func TestFilesystemDeadlines(t *testing.T) {
	t.Run("request timeout", func(t *testing.T) {
		fsys := &fakeFilesystem{dirs: map[string]bool{}}
		mux := http.NewServeMux()
		mux.Handle(filesystemconnect.NewFilesystemHandler(fsys))
		c := newTestClient(t, mux, WithRequestTimeout(50*time.Millisecond))
		_, err := testSandbox(c, false).Stat(context.Background(), "/slow")
		require.ErrorIs(t, err, ErrRequestTimeout)
		var te *TransportError
		require.ErrorAs(t, err, &te)
		assert.True(t, te.Transient())
	})
	t.Run("caller deadline", func(t *testing.T) {
		fsys := &fakeFilesystem{dirs: map[string]bool{}}
		c, _ := envdServer(t, fsys, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := testSandbox(c, false).Stat(ctx, "/slow")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, ErrRequestTimeout)
	})
}
