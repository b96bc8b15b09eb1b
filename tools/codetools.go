package tools

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/tta-dev/tta/internal/ansi"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tta-dev/tta"
)

// Arguments of the tools. Their JSON form is the tools' input schema: fields
// without omitempty are required, the jsonschema tag is the description.

type runCodeArgs struct {
	Code     string            `json:"code" jsonschema:"the source code to run"`
	Language string            `json:"language,omitempty" jsonschema:"python (the default), javascript, typescript, bash, r or java"`
	Timeout  float64           `json:"timeout,omitempty" jsonschema:"seconds the code may run; 0 or absent means no bound but the client's"`
	Env      map[string]string `json:"env,omitempty" jsonschema:"environment variables for this run"`
}

type sessionOpenArgs struct{}

type sessionRunArgs struct {
	SessionID string            `json:"session_id" jsonschema:"the ID session_open returned"`
	Code      string            `json:"code" jsonschema:"the source code to run; variables and imports of earlier runs in the same language are kept"`
	Language  string            `json:"language,omitempty" jsonschema:"python (the default), javascript, typescript, bash, r or java"`
	Timeout   float64           `json:"timeout,omitempty" jsonschema:"seconds the code may run; 0 or absent means no bound but the client's"`
	Env       map[string]string `json:"env,omitempty" jsonschema:"environment variables for this run"`
}

type sessionCloseArgs struct {
	SessionID string `json:"session_id" jsonschema:"the ID session_open returned"`
}

type filesWriteArgs struct {
	SessionID string `json:"session_id" jsonschema:"the ID session_open returned"`
	Path      string `json:"path" jsonschema:"where to write: absolute, or relative to the user's home; parent directories are created"`
	Content   string `json:"content" jsonschema:"the file's content: text, or base64 when base64 is true"`
	Base64    bool   `json:"base64,omitempty" jsonschema:"content is base64-encoded binary data"`
}

type filesReadArgs struct {
	SessionID string `json:"session_id" jsonschema:"the ID session_open returned"`
	Path      string `json:"path" jsonschema:"the file to read: absolute, or relative to the user's home"`
}

type filesListArgs struct {
	SessionID string `json:"session_id" jsonschema:"the ID session_open returned"`
	Path      string `json:"path,omitempty" jsonschema:"the directory to list: absolute, or relative to the user's home (the default)"`
}

type runCommandArgs struct {
	Command   string  `json:"command" jsonschema:"the shell command to run with bash -l -c"`
	SessionID string  `json:"session_id,omitempty" jsonschema:"run in this session's sandbox; absent means a fresh sandbox, killed afterwards"`
	Timeout   float64 `json:"timeout,omitempty" jsonschema:"seconds the command may run; 0 or absent means no bound but the client's"`
}

// Tools returns the set's tools, in the order the package documentation
// lists them. Every call returns new values over the same set.
func (s *Set) Tools() []Tool {
	return []Tool{
		newTool("run_code", "Run code in a fresh sandbox, killed afterwards: no state is kept between calls (use a session for that). Returns stdout, stderr, the value of the last expression and rich results (images, HTML); the code's error, with its traceback, is a tool error.", s.runCode),
		newTool("session_open", "Open a session: one sandbox whose interpreter keeps variables, imports and files between session_run calls. Returns the session ID. Close it with session_close; it is closed anyway when unused for a while.", s.sessionOpen),
		newTool("session_run", "Run code in a session's sandbox, keeping the state of earlier runs. Returns what run_code returns.", s.sessionRun),
		newTool("session_close", "Close a session and kill its sandbox.", s.sessionClose),
		newTool("files_write", "Write a file into a session's sandbox.", s.filesWrite),
		newTool("files_read", "Read a file from a session's sandbox: text as it is, PNG and JPEG as images, other binary data base64-encoded.", s.filesRead),
		newTool("files_list", "List a directory of a session's sandbox.", s.filesList),
		newTool("run_command", "Run a shell command, in a session's sandbox or in a fresh one killed afterwards. Returns its exit status, stdout and stderr; a non-zero exit status is a tool error.", s.runCommand),
	}
}

func (s *Set) runCode(ctx context.Context, a runCodeArgs, progress Progress) Result {
	in, bad := s.codeInput("run_code", a.Code, a.Language, a.Timeout, a.Env)
	if bad != "" {
		return errorResult(bad)
	}
	if s.isClosed() {
		return errorResult("run_code: " + errSetClosed)
	}
	stream := startStream(progress, "starting a sandbox")
	defer stream.stop()
	in.OnStdout, in.OnStderr = stream.stdout, stream.stderr
	out, err := s.exec.Execute(ctx, in)
	if err != nil {
		return errorResult(runFailure("run_code", a.Timeout, err))
	}
	return outputResult(out)
}

func (s *Set) sessionOpen(ctx context.Context, _ sessionOpenArgs, progress Progress) Result {
	stream := startStream(progress, "starting a sandbox")
	defer stream.stop()
	o, err := s.open(ctx)
	if err != nil {
		return errorResult("session_open: " + failure(err))
	}
	return textResult(fmt.Sprintf("session_id: %s\nPass it to session_run, files_write, files_read, files_list and run_command; close the session with session_close when done (it is closed after %v unused).", o.id, s.cfg.idle))
}

func (s *Set) sessionRun(ctx context.Context, a sessionRunArgs, progress Progress) Result {
	in, bad := s.codeInput("session_run", a.Code, a.Language, a.Timeout, a.Env)
	if bad != "" {
		return errorResult(bad)
	}
	o, release, err := s.acquire(a.SessionID)
	if err != nil {
		return errorResult("session_run: " + err.Error())
	}
	defer release()
	stream := startStream(progress, "")
	defer stream.stop()
	in.OnStdout, in.OnStderr = stream.stdout, stream.stderr
	out, err := o.sess.Execute(ctx, in)
	if err != nil {
		return errorResult(runFailure("session_run", a.Timeout, err))
	}
	return outputResult(out)
}

func (s *Set) sessionClose(_ context.Context, a sessionCloseArgs, _ Progress) Result {
	if err := s.close(a.SessionID); err != nil {
		return errorResult("session_close: " + failure(err))
	}
	return textResult("session " + a.SessionID + " closed; its sandbox was killed")
}

func (s *Set) filesWrite(ctx context.Context, a filesWriteArgs, _ Progress) Result {
	if a.Path == "" {
		return errorResult(`files_write: argument "path" is empty; give a file path, absolute or relative to the user's home`)
	}
	data := []byte(a.Content)
	if a.Base64 {
		var err error
		if data, err = base64.StdEncoding.DecodeString(a.Content); err != nil {
			return errorResult(fmt.Sprintf(`files_write: argument "content" is not valid base64 (%v); send text with base64 false`, err))
		}
	}
	if len(data) > s.cfg.maxCodeBytes {
		return errorResult(fmt.Sprintf("files_write: the content is %d bytes, more than the limit of %d; write it in parts or generate it with code in the sandbox", len(data), s.cfg.maxCodeBytes))
	}
	o, release, err := s.acquire(a.SessionID)
	if err != nil {
		return errorResult("files_write: " + err.Error())
	}
	defer release()
	if err := o.sess.WriteFile(ctx, a.Path, data); err != nil {
		return errorResult("files_write: " + failure(err))
	}
	return textResult(fmt.Sprintf("wrote %d bytes to %s", len(data), a.Path))
}

func (s *Set) filesRead(ctx context.Context, a filesReadArgs, _ Progress) Result {
	o, release, err := s.acquire(a.SessionID)
	if err != nil {
		return errorResult("files_read: " + err.Error())
	}
	defer release()
	data, err := o.sess.ReadFile(ctx, a.Path)
	if err != nil {
		return errorResult("files_read: " + failure(err))
	}
	if len(data) > s.cfg.maxReadBytes {
		return errorResult(fmt.Sprintf("files_read: %s is %d bytes, more than the limit of %d; read a part of it with run_command (head, tail, grep)", a.Path, len(data), s.cfg.maxReadBytes))
	}
	if mime := imageType(data); mime != "" {
		return Result{Content: []Content{{MIMEType: mime, Data: data}}}
	}
	if utf8.Valid(data) {
		return textResult(string(data))
	}
	return textResult(fmt.Sprintf("%s is binary, %d bytes; base64:\n%s", a.Path, len(data), base64.StdEncoding.EncodeToString(data)))
}

func (s *Set) filesList(ctx context.Context, a filesListArgs, _ Progress) Result {
	o, release, err := s.acquire(a.SessionID)
	if err != nil {
		return errorResult("files_list: " + err.Error())
	}
	defer release()
	entries, err := o.sess.ListFiles(ctx, a.Path)
	if err != nil {
		return errorResult("files_list: " + failure(err))
	}
	if len(entries) == 0 {
		return textResult("(empty directory)")
	}
	slices.SortFunc(entries, func(x, y tta.FileInfo) int { return strings.Compare(x.Name, y.Name) })
	var b strings.Builder
	for _, e := range entries {
		if e.Dir {
			fmt.Fprintf(&b, "%s/\n", e.Name)
		} else {
			fmt.Fprintf(&b, "%s\t%d bytes\n", e.Name, e.Size)
		}
	}
	return textResult(strings.TrimSuffix(b.String(), "\n"))
}

func (s *Set) runCommand(ctx context.Context, a runCommandArgs, progress Progress) Result {
	switch {
	case strings.TrimSpace(a.Command) == "":
		return errorResult(`run_command: argument "command" is empty; give a shell command`)
	case len(a.Command) > s.cfg.maxCodeBytes:
		return errorResult(fmt.Sprintf("run_command: the command is %d bytes, more than the limit of %d; write a script with files_write and run it", len(a.Command), s.cfg.maxCodeBytes))
	case a.Timeout < 0:
		return errorResult(fmt.Sprintf(`run_command: argument "timeout" is %v; give seconds >= 0`, a.Timeout))
	}
	if a.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, seconds(a.Timeout))
		defer cancel()
	}
	var sess *tta.Session
	if a.SessionID != "" {
		o, release, err := s.acquire(a.SessionID)
		if err != nil {
			return errorResult("run_command: " + err.Error())
		}
		defer release()
		sess = o.sess
	} else {
		if s.isClosed() {
			return errorResult("run_command: " + errSetClosed)
		}
		stream := startStream(progress, "starting a sandbox")
		var err error
		sess, err = s.exec.NewSession(ctx)
		stream.stop()
		if err != nil {
			return errorResult("run_command: " + failure(err))
		}
		defer sess.Close()
	}
	res, err := sess.RunCommand(ctx, a.Command)
	if err != nil {
		if ctx.Err() != nil && a.Timeout > 0 {
			return errorResult(fmt.Sprintf("run_command: the command ran longer than its timeout of %v and was stopped", seconds(a.Timeout)))
		}
		return errorResult("run_command: " + failure(err))
	}
	content := []Content{{Text: fmt.Sprintf("exit status %d", res.ExitCode)}}
	if res.Stdout != "" {
		content = append(content, Content{Text: "stdout:\n" + res.Stdout})
	}
	if res.Stderr != "" {
		content = append(content, Content{Text: "stderr:\n" + res.Stderr})
	}
	return Result{Content: content, IsError: res.ExitCode != 0}
}

// isClosed reports whether Close was called.
func (s *Set) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// codeInput checks the arguments of a code run and returns its input, or a
// message saying what was wrong.
func (s *Set) codeInput(tool, code, language string, timeout float64, env map[string]string) (tta.CodeInput, string) {
	switch {
	case strings.TrimSpace(code) == "":
		return tta.CodeInput{}, tool + `: argument "code" is empty; give the code to run`
	case len(code) > s.cfg.maxCodeBytes:
		return tta.CodeInput{}, fmt.Sprintf("%s: the code is %d bytes, more than the limit of %d; write large data with files_write, or generate it in code", tool, len(code), s.cfg.maxCodeBytes)
	case timeout < 0:
		return tta.CodeInput{}, fmt.Sprintf(`%s: argument "timeout" is %v; give seconds >= 0`, tool, timeout)
	}
	return tta.CodeInput{Code: code, Language: language, Timeout: seconds(timeout), Env: env}, ""
}

// seconds converts a number of seconds to a duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// runFailure says why code could not run.
func runFailure(tool string, timeout float64, err error) string {
	if errors.Is(err, tta.ErrCodeTimeout) {
		return fmt.Sprintf("%s: the code ran longer than its timeout of %v and was stopped", tool, seconds(timeout))
	}
	return tool + ": the code could not run: " + failure(err)
}

// failure describes err for the model, with a hint when one helps.
func failure(err error) string {
	msg := strings.TrimPrefix(err.Error(), "tta: ")
	switch {
	case errors.Is(err, tta.ErrFileNotFound):
		return msg + " (list the directory with files_list)"
	case errors.Is(err, tta.ErrSandboxGone):
		return msg + " (the session's sandbox is gone; open a new session)"
	case errors.Is(err, tta.ErrTemplateNotReady):
		return msg + " (the sandbox's code interpreter did not start; try again later)"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return msg + " (the call was cancelled; its sandbox was killed unless it belongs to a session)"
	}
	return msg
}

// outputResult renders the output of a run: stdout, stderr, results, and the
// code's error, which makes the Result an error.
func outputResult(out tta.CodeOutput) Result {
	var r Result
	if out.Stdout != "" {
		r.Content = append(r.Content, Content{Text: "stdout:\n" + out.Stdout})
	}
	if out.Stderr != "" {
		r.Content = append(r.Content, Content{Text: "stderr:\n" + out.Stderr})
	}
	for _, res := range out.Results {
		r.Content = append(r.Content, resultContent(res)...)
	}
	if e := out.Error; e != nil {
		tb := ansi.Strip(e.Traceback)
		text := "error: " + e.Name
		if e.Value != "" {
			text += ": " + e.Value
		}
		if tb != "" {
			text += "\ntraceback:\n" + strings.TrimRight(tb, "\n")
		}
		r.Content = append(r.Content, Content{Text: text})
		r.IsError = true
	}
	if len(r.Content) == 0 {
		r.Content = []Content{{Text: "(the code ran and printed nothing)"}}
	}
	return r
}

// resultContent renders one displayed value: images as images, the main
// result's text, and HTML, markdown and other text representations as text.
func resultContent(res tta.Result) []Content {
	var cs []Content
	for _, mime := range slices.Sorted(maps.Keys(res.Data)) {
		data := res.Data[mime]
		switch mime {
		case "image/png", "image/jpeg":
			raw, err := base64.StdEncoding.DecodeString(data)
			if err != nil {
				cs = append(cs, Content{Text: fmt.Sprintf("[%s result that is not valid base64]", mime)})
				continue
			}
			cs = append(cs, Content{MIMEType: mime, Data: raw})
		case "application/pdf":
			cs = append(cs, Content{Text: fmt.Sprintf("[%s result, %d base64 characters]", mime, len(data))})
		default:
			cs = append(cs, Content{Text: mime + ":\n" + data})
		}
	}
	if res.Text != "" {
		label := "display:\n"
		if res.IsMain {
			label = "result:\n"
		}
		cs = append([]Content{{Text: label + res.Text}}, cs...)
	}
	return cs
}

// imageType returns the MIME type of PNG and JPEG data, or "".
func imageType(data []byte) string {
	switch {
	case strings.HasPrefix(string(data), "\x89PNG\r\n\x1a\n"):
		return "image/png"
	case strings.HasPrefix(string(data), "\xff\xd8\xff"):
		return "image/jpeg"
	}
	return ""
}

// stream reports a call's progress: a start message, then a line every
// second while nothing else happened ("waiting for the sandbox: 3s"), then
// the code's output as it arrives. stop ends it; nothing is reported after.
type stream struct {
	progress Progress
	start    time.Time

	mu      sync.Mutex // protects stopped and started, serialises progress
	stopped bool
	started bool // output arrived: no more waiting lines

	done chan struct{} // closed by stop
	wg   sync.WaitGroup
}

// startStream starts reporting; first, when not empty, is reported at once.
func startStream(progress Progress, first string) *stream {
	s := &stream{progress: progress, start: time.Now(), done: make(chan struct{})}
	if first != "" {
		s.report(first, false)
		s.wg.Go(s.tick)
	}
	return s
}

func (s *stream) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.mu.Lock()
			waiting := !s.started
			s.mu.Unlock()
			if !waiting {
				return
			}
			s.report(fmt.Sprintf("waiting for the sandbox: %v", time.Since(s.start).Round(time.Second)), false)
		}
	}
}

func (s *stream) report(msg string, output bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	if output {
		s.started = true
	}
	s.progress(msg)
}

func (s *stream) stdout(text string) { s.report("stdout: "+text, true) }
func (s *stream) stderr(text string) { s.report("stderr: "+text, true) }

func (s *stream) stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
}
