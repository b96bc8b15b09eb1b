package localrt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/tta-dev/tta/e2b/e2bserver"
)

// The sandbox's file system is its directory: sandbox path /a/b is
// <dir>/a/b, opened through an os.Root so that no path or symbolic link
// leads out of it.

// errEscape reports a path that would leave the sandbox.
func errEscape(p string) error {
	return fmt.Errorf("localrt: %s: path escapes the sandbox: %w", p, fs.ErrPermission)
}

// rel turns a sandbox path into a path relative to the sandbox directory.
// Relative paths are under /home/user. Any ".." element is rejected.
func rel(p string) (string, error) {
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return "", errEscape(p)
		}
	}
	if !path.IsAbs(p) {
		p = path.Join(homeDir, p)
	}
	r := strings.TrimPrefix(path.Clean(p), "/")
	if r == "" {
		r = "."
	}
	return r, nil
}

// fsError maps an os.Root error on sandbox path p to the errors the Server
// understands.
func fsError(p string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case strings.Contains(err.Error(), "path escapes from parent"):
		return errEscape(p)
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTEMPTY):
		return fmt.Errorf("localrt: %s: %w (%v)", p, fs.ErrInvalid, unwrapPath(err))
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EFBIG):
		return fmt.Errorf("localrt: %s: %w", p, unwrapPath(err))
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("localrt: %s: %w", p, pe.Err)
	}
	return fmt.Errorf("localrt: %s: %w", p, err)
}

// unwrapPath drops a *fs.PathError's host path from err.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fileInfo describes the entry at sandbox path p.
func (in *instance) fileInfo(p string, fi fs.FileInfo) e2bserver.FileInfo {
	info := e2bserver.FileInfo{
		Name:    path.Base(p),
		Path:    p,
		Type:    e2bserver.TypeFile,
		Mode:    fi.Mode(),
		ModTime: fi.ModTime(),
	}
	switch {
	case fi.IsDir():
		info.Type = e2bserver.TypeDir
	case fi.Mode()&fs.ModeSymlink != 0:
		info.Type = e2bserver.TypeSymlink
		if r, err := rel(p); err == nil {
			info.SymlinkTarget, _ = in.root.Readlink(r)
		}
	default:
		info.Size = fi.Size()
	}
	return info
}

// ReadFile implements e2bserver.Filesystem.
func (in *instance) ReadFile(_ context.Context, p string) (io.ReadCloser, error) {
	if err := in.checkOpen(); err != nil {
		return nil, err
	}
	r, err := rel(p)
	if err != nil {
		return nil, err
	}
	f, err := in.root.Open(r)
	if err != nil {
		return nil, fsError(p, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fsError(p, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("localrt: %s is a directory: %w", p, fs.ErrInvalid)
	}
	return f, nil
}

// WriteFile implements e2bserver.Filesystem.
func (in *instance) WriteFile(_ context.Context, p string, src io.Reader) (e2bserver.FileInfo, error) {
	if err := in.checkOpen(); err != nil {
		return e2bserver.FileInfo{}, err
	}
	r, err := rel(p)
	if err != nil {
		return e2bserver.FileInfo{}, err
	}
	if r == "." {
		return e2bserver.FileInfo{}, fmt.Errorf("localrt: %s is a directory: %w", p, fs.ErrInvalid)
	}
	if err := in.root.MkdirAll(path.Dir(r), 0o755); err != nil {
		return e2bserver.FileInfo{}, fsError(p, err)
	}
	if fi, err := in.root.Lstat(r); err == nil && fi.IsDir() {
		return e2bserver.FileInfo{}, fmt.Errorf("localrt: %s is a directory: %w", p, fs.ErrInvalid)
	}
	f, err := in.root.OpenFile(r, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return e2bserver.FileInfo{}, fsError(p, err)
	}
	_, err = io.Copy(f, src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return e2bserver.FileInfo{}, fsError(p, err)
	}
	in.chown(r)
	return in.Stat(context.Background(), p)
}

// chown gives r (relative to the sandbox's directory) and the directories
// the server made on the way to it to the sandbox user whose home holds it
// (root under /root, else user), as files E2B's envd writes belong to the
// sandbox's user. Errors are ignored: the file stays the server's.
func (in *instance) chown(r string) {
	user := defaultUser
	if isWithin("/"+r, "/root") {
		user = rootUser
	}
	id, ok := in.owner(user)
	if !ok {
		return
	}
	for ; r != "." && r != "/" && strings.Contains(r, "/"); r = path.Dir(r) {
		fi, err := in.root.Lstat(r)
		if err != nil {
			return
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != 0 {
			return // not the server's: neither are its parents
		}
		_ = in.root.Lchown(r, id, id)
	}
}

// Stat implements e2bserver.Filesystem. A symbolic link is described
// itself, not followed.
func (in *instance) Stat(_ context.Context, p string) (e2bserver.FileInfo, error) {
	if err := in.checkOpen(); err != nil {
		return e2bserver.FileInfo{}, err
	}
	r, err := rel(p)
	if err != nil {
		return e2bserver.FileInfo{}, err
	}
	fi, err := in.root.Lstat(r)
	if err != nil {
		return e2bserver.FileInfo{}, fsError(p, err)
	}
	return in.fileInfo(path.Join("/", r), fi), nil
}

// ListDir implements e2bserver.Filesystem. Symbolic links to directories are
// listed, not entered.
func (in *instance) ListDir(ctx context.Context, p string, depth int) ([]e2bserver.FileInfo, error) {
	if err := in.checkOpen(); err != nil {
		return nil, err
	}
	r, err := rel(p)
	if err != nil {
		return nil, err
	}
	fi, err := in.root.Stat(r)
	if err != nil {
		return nil, fsError(p, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("localrt: %s is not a directory: %w", p, fs.ErrInvalid)
	}
	depth = max(depth, 1)
	var out []e2bserver.FileInfo
	var walk func(r string, level int) error
	walk = func(r string, level int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := in.root.Open(r)
		if err != nil {
			return fsError(path.Join("/", r), err)
		}
		entries, err := f.ReadDir(-1)
		f.Close()
		if err != nil {
			return fsError(path.Join("/", r), err)
		}
		for _, e := range entries {
			child := path.Join(r, e.Name())
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			out = append(out, in.fileInfo(path.Join("/", child), fi))
			if e.IsDir() && level < depth {
				if err := walk(child, level+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(r, 1); err != nil {
		return nil, err
	}
	return out, nil
}

// MakeDir implements e2bserver.Filesystem.
func (in *instance) MakeDir(_ context.Context, p string) (e2bserver.FileInfo, error) {
	if err := in.checkOpen(); err != nil {
		return e2bserver.FileInfo{}, err
	}
	r, err := rel(p)
	if err != nil {
		return e2bserver.FileInfo{}, err
	}
	if fi, err := in.root.Lstat(r); err == nil {
		if fi.IsDir() {
			return e2bserver.FileInfo{}, fmt.Errorf("localrt: %s: %w", p, fs.ErrExist)
		}
		return e2bserver.FileInfo{}, fmt.Errorf("localrt: %s exists and is not a directory: %w", p, fs.ErrInvalid)
	}
	if err := in.root.MkdirAll(r, 0o755); err != nil {
		return e2bserver.FileInfo{}, fsError(p, err)
	}
	in.chown(r)
	return in.Stat(context.Background(), p)
}

// Remove implements e2bserver.Filesystem. The sandbox's root cannot be
// removed.
func (in *instance) Remove(_ context.Context, p string) error {
	if err := in.checkOpen(); err != nil {
		return err
	}
	r, err := rel(p)
	if err != nil {
		return err
	}
	if r == "." {
		return fmt.Errorf("localrt: %s: removing the sandbox's root: %w", p, fs.ErrPermission)
	}
	if _, err := in.root.Lstat(r); err != nil {
		return fsError(p, err)
	}
	return fsError(p, in.root.RemoveAll(r))
}

// Move implements e2bserver.Filesystem.
func (in *instance) Move(_ context.Context, src, dst string) (e2bserver.FileInfo, error) {
	if err := in.checkOpen(); err != nil {
		return e2bserver.FileInfo{}, err
	}
	rs, err := rel(src)
	if err != nil {
		return e2bserver.FileInfo{}, err
	}
	rd, err := rel(dst)
	if err != nil {
		return e2bserver.FileInfo{}, err
	}
	if rs == "." || rd == "." {
		return e2bserver.FileInfo{}, fmt.Errorf("localrt: moving the sandbox's root: %w", fs.ErrPermission)
	}
	if _, err := in.root.Lstat(rs); err != nil {
		return e2bserver.FileInfo{}, fsError(src, err)
	}
	if err := in.root.MkdirAll(path.Dir(rd), 0o755); err != nil {
		return e2bserver.FileInfo{}, fsError(dst, err)
	}
	if err := in.root.Rename(rs, rd); err != nil {
		return e2bserver.FileInfo{}, fsError(dst, err)
	}
	return in.Stat(context.Background(), dst)
}
