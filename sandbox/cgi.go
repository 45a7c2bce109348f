package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasgi/wasgi/abi"
)

// ErrBadGateway: a CGI program's output is not a valid CGI response (502).
var ErrBadGateway = errors.New("sandbox: invalid CGI response")

// CGI runs a WASI command once per request, as WAGI and Spin's wagi
// executor do (abi = "cgi"): a fresh instance from the compiled module,
// CGI/1.1 variables in its environment, the request body on stdin and the
// response on stdout. It shares its group's capacity with pooled apps.
type CGI struct {
	g      *Group
	m      *Module
	cfg    AppConfig
	modCfg wazero.ModuleConfig
}

// NewCGI adds a CGI app running the WASI command m to the group.
func (g *Group) NewCGI(m *Module, cfg AppConfig) (*CGI, error) {
	if m.Kind != Command {
		return nil, fmt.Errorf("sandbox: %s: module %s is not a WASI command (it exports no _start); use abi = \"wasgi\"", cfg.Name, m.Path)
	}
	mc, roots, err := moduleConfig(m, cfg)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		closeRoots(roots)
		return nil, ErrClosed
	}
	g.roots = append(g.roots, roots...)
	return &CGI{g: g, m: m, cfg: cfg, modCfg: mc}, nil
}

// CGICall is one CGI request.
type CGICall struct {
	// Env holds the CGI meta-variables, as an encoded environ.
	Env []byte
	// Args are argv, WAGI-style: the path, then the query's &-separated
	// parts.
	Args []string
	// Stdin is the request body.
	Stdin io.Reader
	// W receives the parsed response.
	W http.ResponseWriter
	// Log is the request's logger.
	Log zerolog.Logger

	resp *cgiResponse
}

// Started reports whether the response headers were sent.
func (c *CGICall) Started() bool { return c.resp != nil && c.resp.started }

// Status is the status sent, 0 before.
func (c *CGICall) Status() int {
	if c.resp == nil {
		return 0
	}
	return c.resp.status
}

// Serve runs the command for one request.
func (c *CGI) Serve(ctx context.Context, call *CGICall) error {
	g := c.g
	if err := g.acquireSlot(ctx); err != nil {
		return err
	}
	defer g.releaseSlot()
	// A CGI run is an instance too: it counts against the group's
	// instances, and may evict another app's idle one to fit.
	g.mu.Lock()
	var evict *instance
	if g.alive >= g.cfg.Instances {
		if evict = g.takeOldestIdle(); evict != nil {
			g.alive--
		}
	}
	g.alive++
	g.mu.Unlock()
	if evict != nil {
		evict.close(ctx)
	}
	defer func() {
		g.mu.Lock()
		g.alive--
		g.mu.Unlock()
	}()

	stderr := newTailWriter(call.Log, zerolog.WarnLevel, "stderr")
	call.resp = &cgiResponse{w: call.W}
	mc := c.modCfg.WithStdin(call.Stdin).WithStdout(call.resp).WithStderr(stderr).WithArgs(call.Args...)
	for k, v := range envPairs(call.Env) {
		mc = mc.WithEnv(k, v)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.RequestTimeout)
	defer cancel()
	dl, _ := cctx.Deadline()
	deadline := new(atomic.Int64)
	deadline.Store(dl.UnixNano())
	mc = mc.WithNanosleep(boundedSleep(deadline))
	cctx = context.WithValue(cctx, logKey{}, &call.Log)
	var mem *memoryAllocator
	if c.cfg.MemoryLimit > 0 {
		mem = newMemoryAllocator(c.cfg.MemoryLimit)
		cctx = experimental.WithMemoryAllocator(cctx, mem)
	}
	var err error
	deprioritizeIfLong(func() { mem.inUse(func() { err = c.instantiate(cctx, mc) }) })
	mem.refill()
	g.served.Add(1)
	g.created.Add(1)
	if err == nil {
		err = call.resp.finish()
		if err != nil {
			return &GuestError{Kind: ErrBadGateway, Err: err, Stderr: stderr.String()}
		}
		return nil
	}
	gerr := &GuestError{Kind: ErrTrap, Err: err, Stderr: stderr.String()}
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded:
		gerr.Kind = ErrTimeout
		g.timedOut.Add(1)
	case errors.As(err, &exit):
		gerr.Kind, gerr.Code = ErrAppFailed, int32(exit.ExitCode())
	default:
		g.trapped.Add(1)
	}
	if call.resp.bad != nil && !call.resp.started {
		gerr.Kind, gerr.Err = ErrBadGateway, call.resp.bad
	}
	return gerr
}

func (c *CGI) instantiate(ctx context.Context, mc wazero.ModuleConfig) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("instantiate %s: %v", c.m.Path, r)
		}
	}()
	if c.m.stop != byInterrupt {
		mod, err := c.m.rt.InstantiateModule(ctx, c.m.compiled, mc)
		if mod != nil {
			mod.Close(ctx)
		}
		return err
	}
	// An instrumented command runs _start with its interrupt global armed.
	mod, err := c.m.rt.InstantiateModule(ctx, c.m.compiled, mc.WithStartFunctions())
	if err != nil {
		return err
	}
	defer mod.Close(ctx)
	g, ok := mod.ExportedGlobal(interruptExport).(api.MutableGlobal)
	if !ok {
		return errors.New("no interrupt global")
	}
	if interrupted(ctx, g, func() { _, err = mod.ExportedFunction(abi.FuncStart).Call(ctx) }) && err != nil {
		return errPastDeadline
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		return nil // what InstantiateModule makes of proc_exit(0)
	}
	return err
}

// envPairs decodes an environ into an iterator of pairs.
func envPairs(env []byte) func(func(string, string) bool) {
	return func(yield func(string, string) bool) {
		for len(env) > 0 {
			end := bytes.IndexByte(env, 0)
			if end < 0 {
				return
			}
			k, v, _ := strings.Cut(string(env[:end]), "=")
			env = env[end+1:]
			if !yield(k, v) {
				return
			}
		}
	}
}

// maxCGIHeader bounds a CGI program's header block.
const maxCGIHeader = 64 << 10

// cgiResponse is a CGI program's stdout: it collects the header block,
// checks it, then streams the body to the client as it is written.
type cgiResponse struct {
	w       http.ResponseWriter
	hdr     []byte
	started bool
	status  int
	bad     error // invalid response: nothing more is written
}

func (r *cgiResponse) Write(p []byte) (int, error) {
	if r.bad != nil {
		return len(p), nil // drain: the program must not block on a full pipe
	}
	if r.started {
		if _, err := r.w.Write(p); err != nil {
			r.bad = err
			return len(p), nil
		}
		http.NewResponseController(r.w).Flush()
		return len(p), nil
	}
	r.hdr = append(r.hdr, p...)
	end, sep := headerEnd(r.hdr)
	if end < 0 {
		if len(r.hdr) > maxCGIHeader {
			r.bad = fmt.Errorf("header block larger than %d bytes", maxCGIHeader)
		}
		return len(p), nil
	}
	body := r.hdr[end+sep:]
	if err := r.start(r.hdr[:end]); err != nil {
		r.bad = err
		return len(p), nil
	}
	if len(body) > 0 {
		r.w.Write(body)
	}
	http.NewResponseController(r.w).Flush()
	return len(p), nil
}

// headerEnd finds the blank line ending a header block ("\n\n" or
// "\r\n\r\n"), returning its offset and length.
func headerEnd(b []byte) (int, int) {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 1, 1
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 1, 2
		}
	}
	if len(b) >= 1 && b[0] == '\n' {
		return 0, 1
	}
	if len(b) >= 2 && b[0] == '\r' && b[1] == '\n' {
		return 0, 2
	}
	return -1, 0
}

// start parses the header block (RFC 3875 section 6): Status sets the
// status, Location alone redirects with 302, and a document needs a
// Content-Type.
func (r *cgiResponse) start(block []byte) error {
	h := http.Header{}
	status := 0
	for line := range strings.SplitSeq(strings.TrimRight(string(block), "\r\n"), "\n") {
		line = strings.TrimSuffix(line, "\r")
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken([]byte(name)) {
			return fmt.Errorf("bad header line %q", line)
		}
		value = strings.Trim(value, " \t")
		if strings.ContainsAny(value, "\r\n\x00") {
			return fmt.Errorf("bad header value in %q", line)
		}
		k := textproto.CanonicalMIMEHeaderKey(name)
		if k == "Status" {
			code, ok := ParseStatus([]byte(value))
			if !ok || status != 0 {
				return fmt.Errorf("bad Status %q", value)
			}
			status = code
			continue
		}
		if !hopByHop[k] {
			h.Add(k, value)
		}
	}
	if cls := h.Values("Content-Length"); len(cls) > 0 {
		if _, err := strconv.ParseUint(cls[0], 10, 63); err != nil || len(cls) > 1 {
			return fmt.Errorf("bad Content-Length %q", cls)
		}
	}
	switch {
	case status == 0 && h.Get("Location") != "":
		status = http.StatusFound
	case status == 0:
		status = http.StatusOK
	}
	if h.Get("Content-Type") == "" && h.Get("Location") == "" && status != http.StatusNoContent && status != http.StatusNotModified {
		return errors.New("no Content-Type")
	}
	dst := r.w.Header()
	for k, vs := range h {
		dst[k] = vs
	}
	r.status, r.started = status, true
	r.w.WriteHeader(status)
	return nil
}

// finish checks the response once the program exited 0.
func (r *cgiResponse) finish() error {
	switch {
	case r.bad != nil && !r.started:
		return r.bad
	case !r.started && len(r.hdr) == 0:
		return errors.New("no output")
	case !r.started:
		return errors.New("header block not terminated by a blank line")
	}
	return nil
}
