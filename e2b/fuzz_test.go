package e2b

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/internal/envd/process/processconnect"
)

// FuzzNDJSONDecode feeds arbitrary bytes to the decoder of an /execute answer:
// it must never panic, and must end either in a complete execution or in an
// error matching ErrExecutionInterrupted, with callbacks matching the record.
// Seeds: testdata/fuzz/FuzzNDJSONDecode and the f.Add calls below.
func FuzzNDJSONDecode(f *testing.F) {
	f.Add([]byte(`{"type":"number_of_executions","execution_count":1}` + "\n" +
		`{"type":"stdout","text":"hi\n","timestamp":1}` + "\n" +
		`{"type":"result","is_main_result":true,"text":"2","png":"QUJD"}` + "\n" +
		`{"type":"error","name":"E","value":"v","traceback":"t"}` + "\n" +
		`{"type":"end_of_execution"}` + "\n"))
	f.Add([]byte(`{"type":"stdout","text":"cut`))
	f.Add([]byte("\n\n\r\n"))
	f.Add([]byte(`{"type":"result","json":[1,2]}` + "\n"))
	f.Add([]byte(`{"type":"end_of_execution"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var stdout, stderr, results, errs int
		exec, err := decodeExecution(bytes.NewReader(body), executionHandlers{
			onStdout: func(OutputMessage) { stdout++ },
			onStderr: func(OutputMessage) { stderr++ },
			onResult: func(Result) { results++ },
			onError:  func(ExecutionError) { errs++ },
		}, nil)
		require.NotNil(t, exec)
		if err != nil {
			require.ErrorIs(t, err, ErrExecutionInterrupted)
			require.True(t, strings.HasPrefix(err.Error(), "e2b: run code: "), err.Error())
		}
		require.Equal(t, stdout, len(exec.Logs.Stdout))
		require.Equal(t, stderr, len(exec.Logs.Stderr))
		require.Equal(t, results, len(exec.Results))
		require.Equal(t, errs > 0, exec.Error != nil)
	})
}

// envelope frames one Connect streaming message.
func envelope(flags byte, payload string) []byte {
	b := make([]byte, 5, 5+len(payload))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// FuzzEnvelope serves arbitrary bytes as the body of Process.Start's
// server stream, as application/connect+json when the first byte is even and
// application/connect+proto (to a binary-codec client) when it is odd:
// RunCommand must never panic, and must end in a result or an "e2b: " error.
// Seeds: testdata/fuzz/FuzzEnvelope and the f.Add calls below.
func FuzzEnvelope(f *testing.F) {
	f.Add([]byte("\x00" + validEnvelopes))
	f.Add([]byte("\x00" + string(envelope(2, `{"error":{"code":"unavailable","message":"envd restarting"}}`))))
	f.Add([]byte("\x00" + string(envelope(0, `{"event":{"start":{"pid":1}}}`))))
	f.Add([]byte("\x00\x00\x00\x00\xff\xff"))
	f.Add([]byte("\x01" + string(envelope(0, "\n\x04\n\x02\b\x07")) + string(envelope(2, "{}"))))

	serve, jsonSandbox, protoSandbox := envelopeServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		serve(data)
		sbx := jsonSandbox
		if len(data) > 0 && data[0]%2 == 1 {
			sbx = protoSandbox
		}
		res, err := sbx.RunCommand(context.Background(), "x", CommandOptions{Timeout: 10 * time.Second})
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "e2b: run command"), err.Error())
			return
		}
		require.NotNil(t, res)
	})
}

// validEnvelopes is a well-formed connect+json stream of a command printing
// "hi" and exiting with 2.
var validEnvelopes = string(envelope(0, `{"event":{"start":{"pid":1}}}`)) +
	string(envelope(0, `{"event":{"data":{"stdout":"aGkK"}}}`)) +
	string(envelope(0, `{"event":{"end":{"exitCode":2,"exited":true,"status":"exit status 2"}}}`)) +
	string(envelope(2, `{}`))

// envelopeServer serves the bytes given to serve as Process.Start's stream
// (see FuzzEnvelope) and returns sandboxes whose process clients use the JSON
// and the binary codec.
func envelopeServer(tb testing.TB) (serve func([]byte), jsonSandbox, protoSandbox *Sandbox) {
	var body atomic.Pointer[[]byte]
	body.Store(new([]byte))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path != processconnect.ProcessStartProcedure {
			w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
			_, _ = io.WriteString(w, "{}")
			return
		}
		data := *body.Load()
		ct := "application/connect+json"
		if len(data) > 0 && data[0]%2 == 1 {
			ct = "application/connect+proto"
		}
		if len(data) > 0 {
			data = data[1:]
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data)
	})
	c := newTestClient(tb, h, WithRequestTimeout(10*time.Second))
	jsonSandbox = testSandbox(c, false)
	protoSandbox = testSandbox(c, false)
	protoSandbox.process = processconnect.NewProcessClient(envdDoer{s: protoSandbox}, protoSandbox.baseURL(EnvdPort))
	return func(b []byte) { body.Store(&b) }, jsonSandbox, protoSandbox
}

func TestEnvelopeServerSeeds(t *testing.T) {
	serve, jsonSandbox, protoSandbox := envelopeServer(t)
	ctx := context.Background()

	serve([]byte("\x00" + validEnvelopes))
	res, err := jsonSandbox.RunCommand(ctx, "x", CommandOptions{})
	require.NoError(t, err)
	require.Equal(t, &CommandResult{ExitCode: 2, Stdout: "hi\n"}, res)

	serve([]byte("\x01" + string(envelope(0, "\n\x04\n\x02\b\x07")) + string(envelope(0, "\n\x04\x1a\x02\x08\x0a")) + string(envelope(2, "{}"))))
	res, err = protoSandbox.RunCommand(ctx, "x", CommandOptions{})
	require.NoError(t, err)
	require.Equal(t, 5, res.ExitCode, "exit_code is a zigzag sint32")

	serve([]byte("\x00" + string(envelope(2, `{"error":{"code":"unavailable","message":"envd restarting"}}`))))
	_, err = jsonSandbox.RunCommand(ctx, "x", CommandOptions{})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 503, apiErr.StatusCode)
	require.Equal(t, "envd restarting", apiErr.Message)

	serve([]byte("\x00\x00\x00\x00\xff\xff"))
	_, err = jsonSandbox.RunCommand(ctx, "x", CommandOptions{})
	require.ErrorContains(t, err, "e2b: run command")
}
