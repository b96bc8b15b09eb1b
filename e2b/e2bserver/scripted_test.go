package e2bserver

import (
	"io/fs"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCommandLine(t *testing.T) {
	tests := []struct {
		spec ProcessSpec
		want string
	}{
		{ProcessSpec{Cmd: "/bin/bash", Args: []string{"-l", "-c", "ls -la"}}, "ls -la"},
		{ProcessSpec{Cmd: "sh", Args: []string{"-c", "echo hi"}}, "echo hi"},
		{ProcessSpec{Cmd: "/bin/bash", Args: []string{"-lc", "pwd"}}, "pwd"},
		{ProcessSpec{Cmd: "/usr/bin/python3", Args: []string{"-c", "print(1)"}}, "/usr/bin/python3 -c print(1)"},
		{ProcessSpec{Cmd: "ls"}, "ls"},
		{ProcessSpec{Cmd: "/bin/bash", Args: []string{"script.sh"}}, "/bin/bash script.sh"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, commandLine(tt.spec))
	}
}

func TestNormalizeLanguage(t *testing.T) {
	for in, want := range map[string]string{"": "python", " Python ": "python", "js": "javascript", "TS": "typescript", "r": "r"} {
		assert.Equal(t, want, normalizeLanguage(in), in)
	}
}

func paths(infos []FileInfo) []string {
	var out []string
	for _, fi := range infos {
		out = append(out, fi.Path)
	}
	slices.Sort(out)
	return out
}

func TestMemFS(t *testing.T) {
	m := newMemFS(map[string]string{"a/b.txt": "B", "/tmp/t": "T"})

	got, err := m.readFile("/home/user/a/b.txt")
	require.NoError(t, err)
	assert.Equal(t, "B", string(got))

	ls, err := m.listDir("/home/user", 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"/home/user/a"}, paths(ls))
	ls, err = m.listDir("/", 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"/home", "/home/user", "/root", "/tmp", "/tmp/t"}, paths(ls))

	errs := []struct {
		name string
		err  error
		want error
	}{
		{"read missing", func() error { _, err := m.readFile("/nope"); return err }(), fs.ErrNotExist},
		{"read dir", func() error { _, err := m.readFile("/tmp"); return err }(), fs.ErrInvalid},
		{"write over dir", func() error { _, err := m.writeFile("/tmp", nil); return err }(), fs.ErrInvalid},
		{"write under file", func() error { _, err := m.writeFile("/tmp/t/x", nil); return err }(), fs.ErrInvalid},
		{"mkdir existing dir", func() error { _, err := m.makeDir("/tmp"); return err }(), fs.ErrExist},
		{"mkdir over file", func() error { _, err := m.makeDir("/tmp/t"); return err }(), fs.ErrInvalid},
		{"list file", func() error { _, err := m.listDir("/tmp/t", 1); return err }(), fs.ErrInvalid},
		{"remove root", m.remove("/"), fs.ErrPermission},
		{"remove missing", m.remove("/nope"), fs.ErrNotExist},
		{"move missing", func() error { _, err := m.move("/nope", "/x"); return err }(), fs.ErrNotExist},
		{"move into itself", func() error { _, err := m.move("/home/user/a", "/home/user/a/in"); return err }(), fs.ErrInvalid},
		{"move onto dir", func() error { _, err := m.move("/tmp/t", "/home"); return err }(), fs.ErrExist},
	}
	for _, tt := range errs {
		assert.ErrorIs(t, tt.err, tt.want, tt.name)
	}

	fi, err := m.move("/home/user/a", "/srv/a2")
	require.NoError(t, err)
	assert.Equal(t, TypeDir, fi.Type)
	got, err = m.readFile("/srv/a2/b.txt")
	require.NoError(t, err)
	assert.Equal(t, "B", string(got))
	_, err = m.stat("/home/user/a/b.txt")
	assert.ErrorIs(t, err, fs.ErrNotExist)

	_, err = m.writeFile("/srv/c.txt", []byte("C"))
	require.NoError(t, err)
	_, err = m.move("/srv/c.txt", "/tmp/t")
	require.NoError(t, err, "a file replaces a file")
	got, _ = m.readFile("/tmp/t")
	assert.Equal(t, "C", string(got))

	require.NoError(t, m.remove("/srv"))
	_, err = m.stat("/srv/a2/b.txt")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}
