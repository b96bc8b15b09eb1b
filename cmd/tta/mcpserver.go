package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/tools"
)

// mcpProtocolVersions are the MCP versions tta mcp speaks: those with
// sessions, so that a client's sandboxes can be tied to its connection and
// killed when it goes.
var mcpProtocolVersions = []string{"2025-11-25", "2025-06-18", "2025-03-26"}

// mcpServer serves the tools of package tools over MCP, with a tools.Set per
// client: a client's sessions are its own and are closed, their sandboxes
// killed, when it disconnects.
type mcpServer struct {
	server *mcp.Server
	exec   *tta.CodeExecutionPrimitive
	opts   []tools.Option
	names  []string // the tools' names, in order

	mu      sync.Mutex // protects clients and closed
	clients map[*mcp.ServerSession]*mcpClient
	closed  bool
	wg      sync.WaitGroup // the goroutines waiting for clients to end
}

// mcpClient is what the server holds for one connected client.
type mcpClient struct {
	set    *tools.Set
	tools  map[string]tools.Tool
	ctx    context.Context // ends when the client is gone; its calls end with it
	cancel context.CancelFunc
}

// newMCPServer returns a server of the tools over exec; opts configure each
// client's tools.Set.
func newMCPServer(exec *tta.CodeExecutionPrimitive, opts ...tools.Option) *mcpServer {
	s := &mcpServer{exec: exec, opts: opts, clients: make(map[*mcp.ServerSession]*mcpClient)}
	s.server = mcp.NewServer(&mcp.Implementation{Name: "tta", Title: "tta code execution", Version: "v1"}, &mcp.ServerOptions{
		Instructions:              "Run code in sandboxes: run_code for one-off runs in a fresh sandbox; session_open, session_run and session_close to keep state across runs; files_* and run_command inside a session.",
		SupportedProtocolVersions: mcpProtocolVersions,
		Capabilities:              &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{}},
	})
	set, err := tools.NewSet(exec, opts...) // for the descriptions only
	if err != nil {
		panic(err) // the options were checked by the caller
	}
	for _, t := range set.Tools() {
		s.names = append(s.names, t.Name)
		s.server.AddTool(&mcp.Tool{Name: t.Name, Description: t.Description, InputSchema: t.InputSchema}, s.handler(t.Name))
	}
	_ = set.Close() // it opened nothing
	s.server.AddReceivingMiddleware(s.unknownTools)
	return s
}

// unknownTools answers a call of a tool the server does not have with a tool
// error listing the tools, rather than a protocol error.
func (s *mcpServer) unknownTools(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if call, ok := req.(*mcp.CallToolRequest); ok && method == "tools/call" {
			if name := call.Params.Name; !contains(s.names, name) {
				return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{
					Text: fmt.Sprintf("unknown tool %q; the tools are %s", name, strings.Join(s.names, ", ")),
				}}}, nil
			}
		}
		return next(ctx, method, req)
	}
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// handler returns the MCP handler of the tool name: it runs the tool of the
// calling client, sends its progress as notifications when the client asked
// for them, and returns its Result as a CallToolResult.
func (s *mcpServer) handler(name string) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c, err := s.client(req.Session)
		if err != nil {
			return toolError(err.Error()), nil
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(c.ctx, cancel)()
		var progress tools.Progress
		if token := req.Params.GetProgressToken(); token != nil {
			n := 0
			progress = func(msg string) {
				n++
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: float64(n), Message: msg})
			}
		}
		return callResult(c.tools[name].Call(ctx, req.Params.Arguments, progress)), nil
	}
}

// toolError is a tool result with isError set and text as its content.
func toolError(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

// callResult converts a Result: text parts to text content, images to image
// content.
func callResult(r tools.Result) *mcp.CallToolResult {
	out := &mcp.CallToolResult{IsError: r.IsError, Content: make([]mcp.Content, 0, len(r.Content))}
	for _, c := range r.Content {
		if c.IsImage() {
			out.Content = append(out.Content, &mcp.ImageContent{MIMEType: c.MIMEType, Data: c.Data})
		} else {
			out.Content = append(out.Content, &mcp.TextContent{Text: c.Text})
		}
	}
	return out
}

// client returns the state of the client of ss, made on its first call; a
// goroutine closes it when the client's connection ends.
func (s *mcpServer) client(ss *mcp.ServerSession) (*mcpClient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("the server is stopping: no new call can start")
	}
	if c, ok := s.clients[ss]; ok {
		return c, nil
	}
	set, err := tools.NewSet(s.exec, s.opts...)
	if err != nil {
		return nil, err
	}
	c := &mcpClient{set: set, tools: make(map[string]tools.Tool)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for _, t := range set.Tools() {
		c.tools[t.Name] = t
	}
	s.clients[ss] = c
	s.wg.Go(func() {
		select {
		case <-c.ctx.Done():
		case <-waitDone(ss):
		}
		s.drop(ss)
	})
	return c, nil
}

// waitDone returns a channel closed when ss's connection has ended.
func waitDone(ss *mcp.ServerSession) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		_ = ss.Wait()
		close(done)
	}()
	return done
}

// drop forgets the client of ss, cancels its calls and closes its sessions,
// killing their sandboxes.
func (s *mcpServer) drop(ss *mcp.ServerSession) {
	s.mu.Lock()
	c, ok := s.clients[ss]
	delete(s.clients, ss)
	s.mu.Unlock()
	if ok {
		c.cancel()
		_ = c.set.Close()
	}
}

// disconnected drops the client whose MCP session ID is id, if any.
func (s *mcpServer) disconnected(id string) {
	s.mu.Lock()
	var found *mcp.ServerSession
	for ss := range s.clients {
		if ss.ID() == id {
			found = ss
		}
	}
	s.mu.Unlock()
	if found != nil {
		s.drop(found)
	}
}

// close drops every client, cancelling their calls and killing their
// sandboxes, closes the MCP sessions and waits for the goroutines that watch
// them. Calls that start later fail. close is idempotent.
func (s *mcpServer) close() {
	s.mu.Lock()
	s.closed = true
	var sessions []*mcp.ServerSession
	for ss := range s.clients {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		s.drop(ss)
	}
	for ss := range s.server.Sessions() {
		_ = ss.Close()
	}
	s.wg.Wait()
}

// httpHandler serves streamable HTTP. A client is gone when it ends its MCP
// session (DELETE) or drops its stream of server messages (the GET the SDKs
// keep open): its calls are cancelled and its sessions closed at once, rather
// than when its MCP session idles out (after idle).
func (s *mcpServer) httpHandler(idle time.Duration) http.Handler {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.server }, &mcp.StreamableHTTPOptions{
		SessionTimeout: idle,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Mcp-Session-Id")
		if r.Method == http.MethodDelete && id != "" {
			s.disconnected(id) // before the SDK closes the session, which waits for its calls
		}
		h.ServeHTTP(w, r)
		if r.Method == http.MethodGet && id != "" && r.Context().Err() != nil && !s.stopping() {
			s.disconnected(id) // the client dropped its stream
		}
	})
}

// stopping reports whether close has started.
func (s *mcpServer) stopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
