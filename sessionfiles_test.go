package tta_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

func TestSessionFilesAndCommandsOnTheE2BProvider(t *testing.T) {
	env := e2btest.Start(t)
	exec := testenv.ServerExec(t, env)
	s, err := exec.NewSession(t.Context())
	require.NoError(t, err)
	defer s.Close()

	require.NoError(t, s.WriteFile(t.Context(), "/home/user/out/a.txt", []byte("abc")))
	data, err := s.ReadFile(t.Context(), "/home/user/out/a.txt")
	require.NoError(t, err)
	assert.Equal(t, "abc", string(data))
	entries, err := s.ListFiles(t.Context(), "/home/user/out")
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, tta.FileInfo{Name: "a.txt", Path: "/home/user/out/a.txt", Size: 3}, entries[0])

	_, err = s.ReadFile(t.Context(), "/home/user/missing.txt")
	assert.ErrorIs(t, err, tta.ErrFileNotFound)
	assert.NotErrorIs(t, err, tta.ErrSandboxGone, "a missing file is not a missing sandbox")
	var se *tta.SandboxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "read", se.Op)
	_, err = s.ListFiles(t.Context(), "/home/user/nowhere")
	assert.ErrorIs(t, err, tta.ErrFileNotFound)

	require.NoError(t, s.Close())
	_, err = s.ReadFile(t.Context(), "/home/user/out/a.txt")
	assert.ErrorIs(t, err, tta.ErrClosed)
}

func TestSessionFilesAndCommandsOnTheFake(t *testing.T) {
	p := ttatest.NewFakeProvider()
	exec := testenv.FakeExec(t, p)
	s, err := exec.NewSession(t.Context())
	require.NoError(t, err)
	defer s.Close()
	sb := p.Sandbox(s.SandboxID())

	require.NoError(t, s.WriteFile(t.Context(), "notes.txt", []byte("x")))
	got, ok := sb.File("notes.txt")
	assert.True(t, ok)
	assert.Equal(t, "x", string(got))
	assert.ErrorContains(t, s.WriteFile(t.Context(), "", nil), "the path is empty")

	_, err = s.RunCommand(t.Context(), "ls -l")
	require.NoError(t, err)
	assert.Equal(t, []string{"ls -l"}, sb.Commands())

	_, err = s.ReadFile(t.Context(), "notes.txt")
	assert.ErrorContains(t, err, "does not implement tta.FileSystem", "the fake reads no files")

	sb.Expire()
	_, err = s.RunCommand(t.Context(), "true")
	assert.ErrorIs(t, err, tta.ErrSandboxGone)
	err = s.WriteFile(t.Context(), "a", nil)
	assert.ErrorIs(t, err, tta.ErrSandboxGone, "a session whose sandbox is gone stays gone")
}
