package e2bserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tta-dev/tta/e2b/internal/envd/filesystem"
	"github.com/tta-dev/tta/e2b/internal/envd/process"
	"github.com/tta-dev/tta/e2b/wire"
)

// connectError maps a runtime error to the Connect error envd would send.
func connectError(err error, msg string) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	code := connect.CodeInternal
	switch {
	case errors.Is(err, fs.ErrNotExist):
		code = connect.CodeNotFound
	case errors.Is(err, fs.ErrExist):
		code = connect.CodeAlreadyExists
	case errors.Is(err, fs.ErrInvalid):
		code = connect.CodeInvalidArgument
	case errors.Is(err, fs.ErrPermission):
		code = connect.CodePermissionDenied
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		code = connect.CodeCanceled
	}
	return connect.NewError(code, fmt.Errorf("%s: %w", msg, err))
}

// filesystemService implements filesystem.Filesystem on the target sandbox.
type filesystemService struct{}

// rpcTarget returns the sandbox of a Connect call and its user.
func rpcTarget(ctx context.Context, h http.Header) (*target, string, error) {
	t := targetFrom(ctx)
	user, err := rpcUser(h)
	if err != nil {
		return nil, "", connect.NewError(connect.CodeUnauthenticated, err)
	}
	return t, user, nil
}

func entryInfo(fi FileInfo) *filesystem.EntryInfo {
	e := &filesystem.EntryInfo{
		Name:        fi.Name,
		Path:        fi.Path,
		Size:        fi.Size,
		Mode:        uint32(fi.Mode.Perm()),
		Permissions: fi.Mode.String(),
		Owner:       cmp.Or(fi.Owner, defaultUser),
		Group:       cmp.Or(fi.Group, defaultUser),
	}
	if !fi.ModTime.IsZero() {
		e.ModifiedTime = timestamppb.New(fi.ModTime)
	}
	switch fi.Type {
	case TypeFile:
		e.Type = filesystem.FileType_FILE_TYPE_FILE
	case TypeDir:
		e.Type = filesystem.FileType_FILE_TYPE_DIRECTORY
	case TypeSymlink:
		e.Type = filesystem.FileType_FILE_TYPE_SYMLINK
		target := fi.SymlinkTarget
		e.SymlinkTarget = &target
	}
	return e
}

func (filesystemService) Stat(ctx context.Context, req *connect.Request[filesystem.StatRequest]) (*connect.Response[filesystem.StatResponse], error) {
	t, user, err := rpcTarget(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	p := resolvePath(req.Msg.GetPath(), user)
	fi, err := t.sb.inst.Stat(ctx, p)
	if err != nil {
		return nil, connectError(err, "error getting file info for "+p)
	}
	return connect.NewResponse(&filesystem.StatResponse{Entry: entryInfo(fi)}), nil
}

func (filesystemService) MakeDir(ctx context.Context, req *connect.Request[filesystem.MakeDirRequest]) (*connect.Response[filesystem.MakeDirResponse], error) {
	t, user, err := rpcTarget(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	p := resolvePath(req.Msg.GetPath(), user)
	fi, err := t.sb.inst.MakeDir(ctx, p)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil, connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("directory already exists: %s", p))
	case err != nil:
		return nil, connectError(err, "error creating directory "+p)
	}
	return connect.NewResponse(&filesystem.MakeDirResponse{Entry: entryInfo(fi)}), nil
}

func (filesystemService) Move(ctx context.Context, req *connect.Request[filesystem.MoveRequest]) (*connect.Response[filesystem.MoveResponse], error) {
	t, user, err := rpcTarget(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	src := resolvePath(req.Msg.GetSource(), user)
	dst := resolvePath(req.Msg.GetDestination(), user)
	fi, err := t.sb.inst.Move(ctx, src, dst)
	if err != nil {
		return nil, connectError(err, fmt.Sprintf("error moving %s to %s", src, dst))
	}
	return connect.NewResponse(&filesystem.MoveResponse{Entry: entryInfo(fi)}), nil
}

func (filesystemService) ListDir(ctx context.Context, req *connect.Request[filesystem.ListDirRequest]) (*connect.Response[filesystem.ListDirResponse], error) {
	t, user, err := rpcTarget(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	depth := int(req.Msg.GetDepth())
	if depth == 0 {
		depth = 1
	}
	p := resolvePath(req.Msg.GetPath(), user)
	infos, err := t.sb.inst.ListDir(ctx, p, depth)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("directory not found: %s", p))
	case errors.Is(err, fs.ErrInvalid):
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("path is not a directory: %s", p))
	case err != nil:
		return nil, connectError(err, "error reading directory "+p)
	}
	// Directories first, then by case-insensitive name, as envd sorts.
	slices.SortFunc(infos, func(a, b FileInfo) int {
		if (a.Type == TypeDir) != (b.Type == TypeDir) {
			if a.Type == TypeDir {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.Path, b.Path))
	})
	entries := make([]*filesystem.EntryInfo, 0, len(infos))
	for _, fi := range infos {
		entries = append(entries, entryInfo(fi))
	}
	return connect.NewResponse(&filesystem.ListDirResponse{Entries: entries}), nil
}

func (filesystemService) Remove(ctx context.Context, req *connect.Request[filesystem.RemoveRequest]) (*connect.Response[filesystem.RemoveResponse], error) {
	t, user, err := rpcTarget(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	p := resolvePath(req.Msg.GetPath(), user)
	if err := t.sb.inst.Remove(ctx, p); err != nil {
		return nil, connectError(err, "error removing "+p)
	}
	return connect.NewResponse(&filesystem.RemoveResponse{}), nil
}

// processService implements process.Process on the target sandbox.
type processService struct{}

func (processService) List(ctx context.Context, req *connect.Request[process.ListRequest]) (*connect.Response[process.ListResponse], error) {
	t := targetFrom(ctx)
	procs, err := t.sb.inst.ListProcesses(ctx)
	if err != nil {
		return nil, connectError(err, "error listing processes")
	}
	out := make([]*process.ProcessInfo, 0, len(procs))
	for _, p := range procs {
		info := &process.ProcessInfo{
			Pid: p.PID,
			Config: &process.ProcessConfig{
				Cmd:  p.Spec.Cmd,
				Args: p.Spec.Args,
				Envs: p.Spec.Envs,
			},
		}
		if p.Spec.Cwd != "" {
			cwd := p.Spec.Cwd
			info.Config.Cwd = &cwd
		}
		if p.Spec.Tag != "" {
			tag := p.Spec.Tag
			info.Tag = &tag
		}
		out = append(out, info)
	}
	return connect.NewResponse(&process.ListResponse{Processes: out}), nil
}

func (processService) Start(ctx context.Context, req *connect.Request[process.StartRequest], stream *connect.ServerStream[process.StartResponse]) error {
	t, user, err := rpcTarget(ctx, req.Header())
	if err != nil {
		return err
	}
	cfg := req.Msg.GetProcess()
	if cfg == nil || cfg.GetCmd() == "" {
		return connect.NewError(connect.CodeInvalidArgument, errors.New("process config with a cmd is required"))
	}
	if req.Msg.Pty != nil {
		return connect.NewError(connect.CodeUnimplemented, errors.New("pty is not supported by this server"))
	}
	spec := ProcessSpec{
		Cmd:  cfg.GetCmd(),
		Args: cfg.GetArgs(),
		Envs: cfg.GetEnvs(),
		Tag:  req.Msg.GetTag(),
		User: user,
		// envd keeps stdin open unless the request says otherwise.
		Stdin: req.Msg.Stdin == nil || req.Msg.GetStdin(),
	}
	if cfg.Cwd != nil {
		spec.Cwd = resolvePath(cfg.GetCwd(), user)
	}

	w := newWatcher()
	rp := t.sb.procs.start(t.ctx, t.sb.inst, spec, w)
	return t.watch(ctx, rp, w, streamKeepalive(req.Header()), func(ev *process.ProcessEvent) error {
		return stream.Send(&process.StartResponse{Event: ev})
	})
}

// Connect attaches to a process started earlier, by pid or tag, and streams
// its events from now on; the process keeps running when the stream ends.
func (processService) Connect(ctx context.Context, req *connect.Request[process.ConnectRequest], stream *connect.ServerStream[process.ConnectResponse]) error {
	t, _, err := rpcTarget(ctx, req.Header())
	if err != nil {
		return err
	}
	if req.Msg.GetProcess() == nil {
		return connect.NewError(connect.CodeInvalidArgument, errors.New("a process selector (pid or tag) is required"))
	}
	return t.connectTo(ctx, req.Msg.GetProcess(), streamKeepalive(req.Header()), func(ev *process.ProcessEvent) error {
		return stream.Send(&process.ConnectResponse{Event: ev})
	})
}

// SendInput writes to a process's standard input (see StdinWriter).
func (processService) SendInput(ctx context.Context, req *connect.Request[process.SendInputRequest]) (*connect.Response[process.SendInputResponse], error) {
	t := targetFrom(ctx)
	w, pid, err := stdinTarget(ctx, t, req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	if err := w.WriteStdin(ctx, pid, req.Msg.GetInput().GetStdin()); err != nil {
		return nil, stdinError(err, pid)
	}
	return connect.NewResponse(&process.SendInputResponse{}), nil
}

// CloseStdin closes a process's standard input (see StdinWriter).
func (processService) CloseStdin(ctx context.Context, req *connect.Request[process.CloseStdinRequest]) (*connect.Response[process.CloseStdinResponse], error) {
	t := targetFrom(ctx)
	w, pid, err := stdinTarget(ctx, t, req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	if err := w.CloseStdin(ctx, pid); err != nil {
		return nil, stdinError(err, pid)
	}
	return connect.NewResponse(&process.CloseStdinResponse{}), nil
}

// stdinTarget returns the sandbox's StdinWriter and the pid sel names.
func stdinTarget(ctx context.Context, t *target, sel *process.ProcessSelector) (StdinWriter, uint32, error) {
	w, ok := t.sb.inst.(StdinWriter)
	if !ok {
		return nil, 0, connect.NewError(connect.CodeUnimplemented, errors.New("this sandbox's processes take no standard input"))
	}
	pid, err := selectedPID(ctx, t, sel)
	return w, pid, err
}

// selectedPID resolves a process selector to a pid: by tag among the running
// processes (NotFound when none has it), or the pid as given.
func selectedPID(ctx context.Context, t *target, sel *process.ProcessSelector) (uint32, error) {
	tag := sel.GetTag()
	if tag == "" {
		return sel.GetPid(), nil
	}
	procs, err := t.sb.inst.ListProcesses(ctx)
	if err != nil {
		return 0, connectError(err, "error listing processes")
	}
	for _, p := range procs {
		if p.Spec.Tag == tag {
			return p.PID, nil
		}
	}
	return 0, connect.NewError(connect.CodeNotFound, fmt.Errorf("process with tag %s not found", tag))
}

// stdinError maps a StdinWriter error to envd's answer.
func stdinError(err error, pid uint32) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("process with pid %d not found", pid))
	case errors.Is(err, fs.ErrClosed):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	}
	return connectError(err, "error writing to stdin")
}

// streamKeepalive is the keepalive period a stream's client asks for in
// seconds (wire.HeaderKeepalivePing), or 0 for none.
func streamKeepalive(h http.Header) time.Duration {
	if secs, err := strconv.Atoi(h.Get(wire.HeaderKeepalivePing)); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	return 0
}

func (processService) SendSignal(ctx context.Context, req *connect.Request[process.SendSignalRequest]) (*connect.Response[process.SendSignalResponse], error) {
	t := targetFrom(ctx)
	var sig Signal
	switch req.Msg.GetSignal() {
	case process.Signal_SIGNAL_SIGKILL:
		sig = SIGKILL
	case process.Signal_SIGNAL_SIGTERM:
		sig = SIGTERM
	default:
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("invalid signal: %s", req.Msg.GetSignal()))
	}
	sel := req.Msg.GetProcess()
	pid := sel.GetPid()
	if tag := sel.GetTag(); tag != "" {
		procs, err := t.sb.inst.ListProcesses(ctx)
		if err != nil {
			return nil, connectError(err, "error listing processes")
		}
		pid = 0
		for _, p := range procs {
			if p.Spec.Tag == tag {
				pid = p.PID
				break
			}
		}
		if pid == 0 {
			return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("process with tag %s not found", tag))
		}
	}
	if err := t.sb.inst.SignalProcess(ctx, pid, sig); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("process with pid %d not found", pid))
		}
		return nil, connectError(err, "error sending signal")
	}
	return connect.NewResponse(&process.SendSignalResponse{}), nil
}
