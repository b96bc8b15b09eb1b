package e2b

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"time"

	"connectrpc.com/connect"

	"github.com/tta-dev/tta/e2b/internal/envd/filesystem"

	"github.com/tta-dev/tta/e2b/wire"
)

// This file speaks to envd on EnvdPort about files: its plain HTTP /health and
// /files endpoints, and its Connect service filesystem.Filesystem. Paths are
// absolute in the sandbox, or relative to the default user's home
// (/home/user in E2B's templates). envd older than 0.4.0 has no default user:
// every call then names the user "user", as the SDKs do (a query parameter
// on /files, Basic authentication on the RPCs).

// EnvdHealth checks that envd answers (GET /health, 204 when up).
func (s *Sandbox) EnvdHealth(ctx context.Context) error {
	return s.call(ctx, "envd health", EnvdPort, http.MethodGet, "/health", nil, nil)
}

// ReadFile returns the content of a file in the sandbox (GET /files?path=).
// A missing file is an error matching ErrNotFound. The wait for the answer is
// bounded by the request timeout, the download by ctx.
func (s *Sandbox) ReadFile(ctx context.Context, name string) ([]byte, error) {
	const op = "read file"
	if name == "" {
		return nil, fmt.Errorf("e2b: %s: empty path", op)
	}
	req, err := s.newRequest(ctx, EnvdPort, http.MethodGet, "/files", s.fileQuery(name), nil)
	if err != nil {
		return nil, fmt.Errorf("e2b: %s: %w", op, err)
	}
	resp, release, err := sendStreaming(ctx, s.c.sandboxHTTP, req, s.c.cfg.requestTimeout, nil, op, s.red)
	if err != nil {
		return nil, err
	}
	defer release()
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, readAPIError(op, resp, s.target(EnvdPort), s.red)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, requestFailure(ctx, nil, op, err, s.red)
	}
	return data, nil
}

// FileEntry is the file WriteFile wrote.
type FileEntry struct {
	// Name is the file's base name.
	Name string
	// Type is "file": envd reports no other type for a written file.
	Type string
	// Path is the file's absolute path inside the sandbox.
	Path string
}

// WriteFile writes data to a file in the sandbox, creating its parent
// directories and replacing an existing file (POST /files?path=, multipart
// field "file"). It returns the entry envd reports. The wait for the answer is
// bounded by the request timeout, the upload by ctx.
func (s *Sandbox) WriteFile(ctx context.Context, name string, data []byte) (FileEntry, error) {
	const op = "write file"
	if name == "" {
		return FileEntry{}, fmt.Errorf("e2b: %s: empty path", op)
	}
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	if _, err := mw.CreateFormFile("file", name); err != nil {
		return FileEntry{}, fmt.Errorf("e2b: %s: %w", op, err)
	}
	prefix := bytes.Clone(head.Bytes())
	head.Reset()
	if err := mw.Close(); err != nil {
		return FileEntry{}, fmt.Errorf("e2b: %s: %w", op, err)
	}
	suffix := head.Bytes()
	body := io.MultiReader(bytes.NewReader(prefix), bytes.NewReader(data), bytes.NewReader(suffix))

	req, err := s.newRequest(ctx, EnvdPort, http.MethodPost, "/files", s.fileQuery(name), body)
	if err != nil {
		return FileEntry{}, fmt.Errorf("e2b: %s: %w", op, err)
	}
	req.ContentLength = int64(len(prefix) + len(data) + len(suffix))
	req.GetBody = func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(bytes.NewReader(prefix), bytes.NewReader(data), bytes.NewReader(suffix))), nil
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, release, err := sendStreaming(ctx, s.c.sandboxHTTP, req, s.c.cfg.requestTimeout, nil, op, s.red)
	if err != nil {
		return FileEntry{}, err
	}
	defer release()
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return FileEntry{}, readAPIError(op, resp, s.target(EnvdPort), s.red)
	}
	var entries []wire.FileEntry
	if err := decodeJSON(resp.Body, &entries); err != nil {
		return FileEntry{}, s.c.decodeFailure(ctx, nil, op, err)
	}
	if len(entries) == 0 {
		return FileEntry{Name: path.Base(name), Type: "file", Path: name}, nil
	}
	return FileEntry(entries[0]), nil
}

// fileQuery is the query of /files: the path and, for envd older than 0.4.0,
// the user.
func (s *Sandbox) fileQuery(name string) url.Values {
	q := url.Values{"path": {name}}
	if user := s.envdUser(""); user != "" {
		q.Set("username", user)
	}
	return q
}

// FileType is the type of a filesystem entry.
type FileType string

// File types.
const (
	// FileTypeUnknown is an entry whose type envd did not report or that
	// is none of the others.
	FileTypeUnknown FileType = ""
	// FileTypeFile is a regular file.
	FileTypeFile FileType = "file"
	// FileTypeDir is a directory.
	FileTypeDir FileType = "dir"
	// FileTypeSymlink is a symbolic link; EntryInfo.SymlinkTarget names its
	// target.
	FileTypeSymlink FileType = "symlink"
)

// EntryInfo describes a file, directory or symlink in the sandbox.
type EntryInfo struct {
	// Name is the entry's base name.
	Name string
	// Type is the entry's type; FileTypeUnknown when envd did not say.
	Type FileType
	// Path is the entry's absolute path inside the sandbox.
	Path string
	// Size is the size in bytes.
	Size int64
	// Mode holds the entry's mode bits as envd reports them.
	Mode        fs.FileMode
	Permissions string // such as "-rw-r--r--"
	// Owner is the name of the owning user.
	Owner string
	// Group is the name of the owning group.
	Group string
	// ModifiedTime is the last modification time; zero when envd did not
	// report it.
	ModifiedTime  time.Time
	SymlinkTarget string // for a symlink, the path it points to
	// Metadata is user-defined metadata stored as user.e2b.* extended
	// attributes, with the prefix stripped; nil when there is none.
	Metadata map[string]string
}

func entryFromProto(e *filesystem.EntryInfo) EntryInfo {
	info := EntryInfo{
		Name:          e.GetName(),
		Path:          e.GetPath(),
		Size:          e.GetSize(),
		Mode:          fs.FileMode(e.GetMode()),
		Permissions:   e.GetPermissions(),
		Owner:         e.GetOwner(),
		Group:         e.GetGroup(),
		SymlinkTarget: e.GetSymlinkTarget(),
		Metadata:      e.GetMetadata(),
	}
	switch e.GetType() {
	case filesystem.FileType_FILE_TYPE_FILE:
		info.Type = FileTypeFile
	case filesystem.FileType_FILE_TYPE_DIRECTORY:
		info.Type = FileTypeDir
	case filesystem.FileType_FILE_TYPE_SYMLINK:
		info.Type = FileTypeSymlink
	}
	if t := e.GetModifiedTime(); t != nil {
		info.ModifiedTime = t.AsTime()
	}
	return info
}

// Stat describes one entry. A missing one is an error matching ErrNotFound.
func (s *Sandbox) Stat(ctx context.Context, name string) (*EntryInfo, error) {
	const op = "stat"
	reqCtx, cancel := withRequestTimeout(ctx, s.c.cfg.requestTimeout)
	defer cancel()
	req := connect.NewRequest(&filesystem.StatRequest{Path: name})
	s.nameEnvdUser(req.Header(), "")
	resp, err := s.filesystem.Stat(reqCtx, req)
	if err != nil {
		return nil, s.rpcFailure(ctx, reqCtx, op, err)
	}
	info := entryFromProto(resp.Msg.GetEntry())
	return &info, nil
}

// ListDir lists a directory's entries, without descending into
// subdirectories. A missing directory is an error matching ErrNotFound.
func (s *Sandbox) ListDir(ctx context.Context, name string) ([]EntryInfo, error) {
	const op = "list directory"
	reqCtx, cancel := withRequestTimeout(ctx, s.c.cfg.requestTimeout)
	defer cancel()
	req := connect.NewRequest(&filesystem.ListDirRequest{Path: name, Depth: 1})
	s.nameEnvdUser(req.Header(), "")
	resp, err := s.filesystem.ListDir(reqCtx, req)
	if err != nil {
		return nil, s.rpcFailure(ctx, reqCtx, op, err)
	}
	entries := make([]EntryInfo, 0, len(resp.Msg.GetEntries()))
	for _, e := range resp.Msg.GetEntries() {
		entries = append(entries, entryFromProto(e))
	}
	return entries, nil
}

// MakeDir creates a directory and its missing parents. It reports created ==
// false, with a nil error, when the directory already exists.
func (s *Sandbox) MakeDir(ctx context.Context, name string) (created bool, err error) {
	const op = "make directory"
	reqCtx, cancel := withRequestTimeout(ctx, s.c.cfg.requestTimeout)
	defer cancel()
	req := connect.NewRequest(&filesystem.MakeDirRequest{Path: name})
	s.nameEnvdUser(req.Header(), "")
	_, err = s.filesystem.MakeDir(reqCtx, req)
	if connect.CodeOf(err) == connect.CodeAlreadyExists {
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			return false, nil
		}
	}
	if err != nil {
		return false, s.rpcFailure(ctx, reqCtx, op, err)
	}
	return true, nil
}

// Remove removes a file or a directory with its contents. A missing entry is
// an error matching ErrNotFound.
func (s *Sandbox) Remove(ctx context.Context, name string) error {
	const op = "remove"
	reqCtx, cancel := withRequestTimeout(ctx, s.c.cfg.requestTimeout)
	defer cancel()
	req := connect.NewRequest(&filesystem.RemoveRequest{Path: name})
	s.nameEnvdUser(req.Header(), "")
	if _, err := s.filesystem.Remove(reqCtx, req); err != nil {
		return s.rpcFailure(ctx, reqCtx, op, err)
	}
	return nil
}

// Move moves or renames an entry and returns its new description. A missing
// source is an error matching ErrNotFound.
func (s *Sandbox) Move(ctx context.Context, from, to string) (*EntryInfo, error) {
	const op = "move"
	reqCtx, cancel := withRequestTimeout(ctx, s.c.cfg.requestTimeout)
	defer cancel()
	req := connect.NewRequest(&filesystem.MoveRequest{Source: from, Destination: to})
	s.nameEnvdUser(req.Header(), "")
	resp, err := s.filesystem.Move(reqCtx, req)
	if err != nil {
		return nil, s.rpcFailure(ctx, reqCtx, op, err)
	}
	info := entryFromProto(resp.Msg.GetEntry())
	return &info, nil
}
