package e2b_test

import (
	"bufio"
	"context"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
)

// echoRuntime answers "echo-lines" by printing "got LINE" for each line of
// its standard input, until its end, and "linger" by reading its input to
// the end and then running for a minute.
func echoRuntime() *e2bserver.ScriptedRuntime {
	return &e2bserver.ScriptedRuntime{Command: func(ctx context.Context, cmd *e2bserver.Command) (int, error) {
		if cmd.Line == "linger" {
			if _, err := io.Copy(io.Discard, cmd.Stdin()); err != nil {
				return 0, err
			}
			return 0, cmd.Sleep(time.Minute)
		}
		sc := bufio.NewScanner(cmd.Stdin())
		for sc.Scan() {
			if err := cmd.Stdout("got " + sc.Text() + "\n"); err != nil {
				return 0, err
			}
		}
		if err := sc.Err(); err != nil {
			return 0, err
		}
		return 0, nil
	}}
}

func TestCommandHandle_Stdin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(echoRuntime()))
		sbx, err := env.Client.Create(t.Context(), e2b.CreateOptions{})
		require.NoError(t, err)

		h, err := sbx.StartCommand(t.Context(), "echo-lines", e2b.CommandOptions{Stdin: true})
		require.NoError(t, err)
		require.NoError(t, h.SendStdin(t.Context(), []byte("a\nb")))
		require.NoError(t, h.SendStdin(t.Context(), []byte("\n")))
		require.NoError(t, h.CloseStdin(t.Context()))
		res, err := h.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, "got a\ngot b\n", res.Stdout)
		assert.Equal(t, 0, res.ExitCode)

		err = h.SendStdin(t.Context(), []byte("late\n"))
		require.ErrorIs(t, err, e2b.ErrNotFound, "the process has ended")
	})
}

func TestCommandHandle_StdinErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(echoRuntime()))
		sbx, err := env.Client.Create(t.Context(), e2b.CreateOptions{})
		require.NoError(t, err)

		h, err := sbx.StartCommand(t.Context(), "linger", e2b.CommandOptions{Stdin: true})
		require.NoError(t, err)
		require.NoError(t, h.CloseStdin(t.Context()))
		err = h.SendStdin(t.Context(), []byte("x"))
		var apiErr *e2b.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Contains(t, err.Error(), "stdin is closed")
		require.Error(t, h.CloseStdin(t.Context()), "closing twice")
		require.NoError(t, h.Kill(t.Context()))
		_, err = h.Wait(t.Context())
		require.NoError(t, err)

		none, err := sbx.StartCommand(t.Context(), "echo-lines", e2b.CommandOptions{})
		require.NoError(t, err)
		res, err := none.Wait(t.Context())
		require.NoError(t, err)
		assert.Empty(t, res.Stdout, "without Stdin the command reads end of file")

		_, err = sbx.RunCommand(t.Context(), "echo-lines", e2b.CommandOptions{Stdin: true})
		require.ErrorContains(t, err, "Stdin applies to StartCommand")
	})
}
