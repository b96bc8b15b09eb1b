package e2bserver

import (
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// memFS is an in-memory file system keyed by absolute clean paths.
type memFS struct {
	mu    sync.Mutex // protects nodes
	nodes map[string]*memNode
}

type memNode struct {
	dir   bool
	data  []byte
	mode  fs.FileMode
	mtime time.Time
}

// newMemFS returns a file system holding the directories of an E2B sandbox
// (/home/user, /root, /tmp) and files (path -> content; relative paths are
// under /home/user).
func newMemFS(files map[string]string) *memFS {
	m := &memFS{nodes: make(map[string]*memNode)}
	now := time.Now()
	for _, d := range []string{"/", "/home", "/home/user", "/root", "/tmp"} {
		m.nodes[d] = &memNode{dir: true, mode: fs.ModeDir | 0o755, mtime: now}
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		abs := resolvePath(p, defaultUser)
		if m.mkdirAllLocked(path.Dir(abs), now) == nil {
			m.nodes[abs] = &memNode{data: []byte(files[p]), mode: 0o644, mtime: now}
		}
	}
	return m
}

func pathErr(op, p string, err error) error {
	return &fs.PathError{Op: op, Path: p, Err: err}
}

// info describes node n at p.
func (m *memFS) info(p string, n *memNode) FileInfo {
	fi := FileInfo{
		Name:    path.Base(p),
		Path:    p,
		Mode:    n.mode,
		ModTime: n.mtime,
		Owner:   defaultUser,
		Group:   defaultUser,
	}
	if n.dir {
		fi.Type = TypeDir
	} else {
		fi.Type = TypeFile
		fi.Size = int64(len(n.data))
	}
	return fi
}

// mkdirAllLocked creates p and its missing parents. The caller holds m.mu.
func (m *memFS) mkdirAllLocked(p string, now time.Time) error {
	if n, ok := m.nodes[p]; ok {
		if !n.dir {
			return pathErr("mkdir", p, fs.ErrInvalid)
		}
		return nil
	}
	if p != "/" {
		if err := m.mkdirAllLocked(path.Dir(p), now); err != nil {
			return err
		}
	}
	m.nodes[p] = &memNode{dir: true, mode: fs.ModeDir | 0o755, mtime: now}
	return nil
}

func (m *memFS) readFile(p string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[p]
	switch {
	case !ok:
		return nil, pathErr("open", p, fs.ErrNotExist)
	case n.dir:
		return nil, pathErr("read", p, fs.ErrInvalid)
	}
	return slices.Clone(n.data), nil
}

func (m *memFS) writeFile(p string, data []byte) (FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if n, ok := m.nodes[p]; ok && n.dir {
		return FileInfo{}, pathErr("write", p, fs.ErrInvalid)
	}
	if err := m.mkdirAllLocked(path.Dir(p), now); err != nil {
		return FileInfo{}, err
	}
	n := &memNode{data: slices.Clone(data), mode: 0o644, mtime: now}
	m.nodes[p] = n
	return m.info(p, n), nil
}

func (m *memFS) stat(p string) (FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[p]
	if !ok {
		return FileInfo{}, pathErr("stat", p, fs.ErrNotExist)
	}
	return m.info(p, n), nil
}

// below returns the prefix under which the descendants of p are keyed.
func below(p string) string {
	if p == "/" {
		return "/"
	}
	return p + "/"
}

func (m *memFS) listDir(p string, depth int) ([]FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[p]
	switch {
	case !ok:
		return nil, pathErr("readdir", p, fs.ErrNotExist)
	case !n.dir:
		return nil, pathErr("readdir", p, fs.ErrInvalid)
	}
	prefix := below(p)
	var out []FileInfo
	for k, n := range m.nodes {
		rel, ok := strings.CutPrefix(k, prefix)
		if !ok || rel == "" {
			continue
		}
		if strings.Count(rel, "/")+1 <= depth {
			out = append(out, m.info(k, n))
		}
	}
	return out, nil
}

func (m *memFS) makeDir(p string) (FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.nodes[p]; ok {
		if n.dir {
			return FileInfo{}, pathErr("mkdir", p, fs.ErrExist)
		}
		return FileInfo{}, pathErr("mkdir", p, fs.ErrInvalid)
	}
	if err := m.mkdirAllLocked(p, time.Now()); err != nil {
		return FileInfo{}, err
	}
	return m.info(p, m.nodes[p]), nil
}

func (m *memFS) remove(p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p == "/" {
		return pathErr("remove", p, fs.ErrPermission)
	}
	if _, ok := m.nodes[p]; !ok {
		return pathErr("remove", p, fs.ErrNotExist)
	}
	delete(m.nodes, p)
	prefix := below(p)
	for k := range m.nodes {
		if strings.HasPrefix(k, prefix) {
			delete(m.nodes, k)
		}
	}
	return nil
}

func (m *memFS) move(src, dst string) (FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sn, ok := m.nodes[src]
	if !ok {
		return FileInfo{}, pathErr("rename", src, fs.ErrNotExist)
	}
	if src == dst {
		return m.info(src, sn), nil
	}
	if src == "/" || strings.HasPrefix(dst, below(src)) {
		return FileInfo{}, pathErr("rename", src, fs.ErrInvalid)
	}
	if dn, ok := m.nodes[dst]; ok {
		if dn.dir {
			return FileInfo{}, pathErr("rename", dst, fs.ErrExist)
		}
		if sn.dir {
			return FileInfo{}, pathErr("rename", dst, fs.ErrInvalid)
		}
	}
	if err := m.mkdirAllLocked(path.Dir(dst), time.Now()); err != nil {
		return FileInfo{}, err
	}
	moved := map[string]*memNode{dst: sn}
	delete(m.nodes, src)
	prefix := below(src)
	for k, n := range m.nodes {
		if rel, ok := strings.CutPrefix(k, prefix); ok {
			moved[dst+"/"+rel] = n
			delete(m.nodes, k)
		}
	}
	for k, n := range moved {
		m.nodes[k] = n
	}
	return m.info(dst, sn), nil
}
