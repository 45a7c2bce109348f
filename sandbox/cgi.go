package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

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
	dirs   preopens
	net    *netState
	locks  []lockRoot
}

// NewCGI adds a CGI app running the WASI command m to the group.
func (g *Group) NewCGI(m *Module, cfg AppConfig) (*CGI, error) {
	if m.Kind != Command {
		return nil, fmt.Errorf("sandbox: %s: module %s is not a WASI command (it exports no _start); use abi = \"wasgi\"", cfg.Name, m.Path)
	}
	mc, dirs, roots, err := moduleConfig(g.rt, m, cfg)
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
	return &CGI{g: g, m: m, cfg: cfg, modCfg: mc, dirs: dirs, net: newNetState(cfg), locks: lockRoots(cfg.Dirs, roots)}, nil
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
	W Response
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
	evict := g.reserve()
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
	abi.ParseEnviron(call.Env, func(k, v []byte) bool {
		mc = mc.WithEnv(string(k), string(v))
		return true
	})
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.RequestTimeout)
	defer cancel()
	dl, _ := cctx.Deadline()
	deadline := new(atomic.Int64)
	deadline.Store(dl.UnixNano())
	files := &fileCount{all: &g.rt.files}
	mc = mc.WithNanosleep(boundedSleep(deadline)).WithFSConfig(c.dirs.config(files))
	state := &instanceState{log: &call.Log, stderr: stderr, deadline: deadline, net: c.net, roots: c.locks, files: files}
	defer state.close()
	cctx = withState(cctx, state)
	var mem *memoryAllocator
	if c.cfg.MemoryLimit > 0 {
		mem = newMemoryAllocator(c.cfg.MemoryLimit, g.rt.spares)
		cctx = experimental.WithMemoryAllocator(cctx, mem)
	}
	var err error
	deprioritizeIfLong(g.rt.renice, func() {
		mem.inUse(func() {
			var mod api.Module
			if mod, _, err = c.m.instantiate(cctx, mc, abi.FuncStart, c.cfg.StackLimit); mod != nil {
				mod.Close(cctx)
			}
		})
	})
	mem.refill()
	g.c.served.Add(1)
	g.c.created.Add(1)
	if err == nil {
		err = call.resp.finish()
		if err != nil {
			return &GuestError{Kind: ErrBadGateway, Err: err, Stderr: stderr.String()}
		}
		return nil
	}
	gerr := g.guestError(err, stderr.String(), true)
	if call.resp.bad != nil && !call.resp.started {
		gerr.Kind, gerr.Err = ErrBadGateway, call.resp.bad
	}
	return gerr
}

// maxCGIHeader bounds a CGI program's header block.
const maxCGIHeader = 64 << 10

// cgiResponse is a CGI program's stdout: it collects the header block,
// checks it, then streams the body to the client as it is written.
type cgiResponse struct {
	w       Response
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
		r.w.Flush()
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
	r.w.Flush()
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
	h := textproto.MIMEHeader{}
	var fields []HeaderField
	status := 0
	for line := range strings.SplitSeq(strings.TrimRight(string(block), "\r\n"), "\n") {
		line = strings.TrimSuffix(line, "\r")
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
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
		h.Add(k, value)
		fields = append(fields, HeaderField{k, value})
	}
	if cls := h.Values("Content-Length"); len(cls) > 0 {
		if _, err := strconv.ParseUint(cls[0], 10, 63); err != nil || len(cls) > 1 {
			return fmt.Errorf("bad Content-Length %q", cls)
		}
	}
	switch {
	case status == 0 && h.Get("Location") != "":
		status = 302 // Found
	case status == 0:
		status = 200
	}
	if h.Get("Content-Type") == "" && h.Get("Location") == "" && status != 204 && status != 304 {
		return errors.New("no Content-Type")
	}
	r.status, r.started = status, true
	return r.w.Start(status, fields)
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
