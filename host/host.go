// Package host is wasgi's HTTP front: listeners, virtual hosts, the router
// from URL to app or alias, the WSGI-style environ, logs and config reload.
// It translates the site config (package sites) into sandbox options
// (package sandbox) and serves requests through the guest ABI.
package host

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/sandbox"
	"github.com/wasgi/wasgi/sites"
)

// Version is the wasgi version, set at build time with
// -ldflags "-X github.com/wasgi/wasgi/host.Version=...".
var Version = "dev"

// Host serves the sites of a config. It is safe for concurrent use; Reload
// swaps the config while requests are in flight.
type Host struct {
	log       zerolog.Logger
	rt        *sandbox.Runtime
	state     atomic.Pointer[state]
	counters  *metrics     // survive reloads
	authLimit *authLimiter // failed password checks, per address and user
	reqID     requestIDs

	draining atomic.Bool  // Shutdown started: /readyz says 503
	accepts  acceptHealth // the public listeners' failed accepts: /readyz says 503

	mu       sync.Mutex
	servers  []*http.Server // public listeners
	addrs    []net.Addr
	tlsPort  string // the first HTTPS listener's port, for redirect_https
	adminSrv *http.Server
	admin    net.Addr
	// The first plain and HTTPS listeners' addresses, where ACME's
	// HTTP-01 and TLS-ALPN-01 challenges are answered.
	firstHTTP, firstHTTPS string

	acme         atomic.Pointer[acmeManager] // nil without ACME sites
	acmeFailures atomic.Int64                // across managers, for /metrics

	started time.Time       // New returned: the status page's uptime
	status  *statusRecorder // the status page's history; nil without an admin listener (set by listen)
	// statusEvery is the status recorder's step; 0 is statusStep (tests
	// shorten it, between New and Listen).
	statusEvery time.Duration
	reloads     reloadLog // the last reloads, for the status page
}

// New compiles every module of cfg and creates its groups and pools, so
// that a bad module fails here rather than on its first request.
func New(ctx context.Context, cfg *sites.Config, log zerolog.Logger) (*Host, error) {
	rt, err := sandbox.New(ctx, sandbox.Options{CacheDir: cfg.Server.CacheDir, Logger: log})
	if err != nil {
		return nil, err
	}
	h := &Host{log: log, rt: rt, counters: newMetrics(), authLimit: newAuthLimiter(), started: time.Now()}
	h.authLimit.configure(cfg.Server.AuthMaxFailures, cfg.Server.AuthFailureWindow)
	h.accepts.log = log
	c, err := loadCerts(cfg)
	if err != nil {
		rt.Close(ctx)
		return nil, err
	}
	s, err := build(ctx, rt, cfg, log, h.buildEnv())
	if err != nil {
		rt.Close(ctx)
		return nil, err
	}
	s.certs = c
	if err := s.warm(ctx); err != nil {
		s.close(ctx)
		rt.Close(ctx)
		return nil, err
	}
	h.state.Store(s)
	h.reqID.init()
	h.reserveFiles(cfg)
	returnLoadMemory()
	return h, nil
}

// loadMemoryWanted counts returnLoadMemory calls not yet served: calls
// during a run coalesce into one more run.
var loadMemoryWanted atomic.Int32

// returnLoadMemory gives the OS back the heap a load or reload used and
// no longer needs, in the background. Compiling reads every module and
// its rewrite (5-7 MB each for a Go guest) and decodes it; what stays
// live afterwards is a third of the peak, and the garbage collector would
// otherwise keep the rest as heap room for as long as the process runs:
// 80 of the examples' 275 MB (docs/PERFORMANCE.md, memory).
func returnLoadMemory() {
	if loadMemoryWanted.Add(1) > 1 {
		return // the running goroutine goes round once more
	}
	go func() {
		for {
			n := loadMemoryWanted.Load()
			debug.FreeOSMemory()
			if loadMemoryWanted.Add(-n) == 0 {
				return
			}
		}
	}()
}

// hostFiles is what the host keeps of its descriptors besides its
// listeners' connections: the listeners, the admin listener, logs, the
// compilation cache, outbound connections and lock files.
const hostFiles = 1024

// reserveFiles keeps the descriptors cfg's listeners need (max_connections
// each, plus hostFiles) out of the guests' reach, so that guests holding
// files never make the listeners fail to accept. The reserve is at most
// half of RLIMIT_NOFILE, which then is too low for the config: say so.
// Like max_connections, it is set at start, not on reload.
func (h *Host) reserveFiles(cfg *sites.Config) {
	limit := sandbox.FileLimit()
	if limit == 0 {
		return
	}
	need := (len(cfg.Server.Listen)+len(cfg.Server.ListenTLS))*cfg.Server.MaxConnections + hostFiles
	reserve := min(need, limit/2)
	share := h.rt.ReserveFiles(reserve)
	ev := h.log.Debug()
	if reserve < need {
		ev = h.log.Warn().Int("needed", need)
	}
	ev.Int("rlimit_nofile", limit).Int("reserved", reserve).Int("guest_share", share).
		Msg("open files: guests share what the host does not reserve (max_connections per listener, plus 1024); raise LimitNOFILE if needed exceeds reserved")
}

// Check compiles and checks every module of cfg against the ABI, like
// `apachectl configtest`, and reports every problem found.
func Check(ctx context.Context, cfg *sites.Config, log zerolog.Logger) error {
	rt, err := sandbox.New(ctx, sandbox.Options{CacheDir: cfg.Server.CacheDir, Logger: log})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	if err := checkCerts(cfg, time.Now()); err != nil {
		return err
	}
	eager := *cfg // a check compiles every module, lazy or not
	eager.Server.Compile = "eager"
	s, err := build(ctx, rt, &eager, log, buildEnv{metrics: newMetrics()})
	if err != nil {
		return err
	}
	defer s.close(ctx)
	return s.probe(ctx)
}

// problemMark starts a line a guest writes to stderr for `wasgi check` to
// report: what cannot work, and where (the Python runtime's bridge writes
// them).
const problemMark = "wasgi-problem: "

// problemIn finds a problem line in text, which may be a %q-quoted
// stderr tail inside an error message.
func problemIn(text string) (string, bool) {
	_, msg, ok := strings.Cut(text, problemMark)
	if !ok {
		return "", false
	}
	if i := strings.IndexAny(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, `\n`); i >= 0 {
		msg = msg[:i]
	}
	return strings.ReplaceAll(msg, `\"`, `"`), true
}

// probe starts each Python app once, as its first request would: an
// application that cannot be imported, or an auth hook that cannot (which
// fails only the locations it protects), is reported with the Python
// exception, file and line.
func (s *state) probe(ctx context.Context) error {
	var errs []error
	for _, a := range s.apps {
		if !a.python || a.pool == nil {
			continue
		}
		stderr, err := a.pool.Probe(ctx)
		if err != nil {
			var gerr *sandbox.GuestError
			tail := err.Error()
			if errors.As(err, &gerr) {
				tail = gerr.Stderr
			}
			if msg, ok := problemIn(tail); ok {
				err = errors.New(msg)
			}
			errs = append(errs, fmt.Errorf("site %s app %s: cannot start: %v", a.site, a.name, err))
			continue
		}
		for line := range strings.SplitSeq(stderr, "\n") {
			if msg, ok := problemIn(line); ok {
				errs = append(errs, fmt.Errorf("site %s app %s: %s (the locations it protects would answer 500)", a.site, a.name, msg))
			}
		}
	}
	return errors.Join(errs...)
}

// buildEnv is what each config's state takes from h.
func (h *Host) buildEnv() buildEnv { return buildEnv{metrics: h.counters, own: h.ownAddr} }

// ownAddr names h's listener at ap: "admin", "public", or "" for none;
// as opened or as configured. No guest may connect to the admin
// listener; to a public one only through an entry naming the address
// literally (sandbox.Outbound.Own).
func (h *Host) ownAddr(ap netip.AddrPort) string {
	var ls []listener
	h.mu.Lock()
	for _, a := range h.addrs {
		ls = append(ls, listener{a, "public"})
	}
	if h.admin != nil {
		ls = append(ls, listener{h.admin, "admin"})
	}
	h.mu.Unlock()
	if s := h.state.Load(); s != nil {
		ls = append(ls, configListeners(s.cfg)...)
	}
	return ownListener(ls, ap)
}

// listener is one of wasgi's listening addresses and its kind, "public"
// or "admin".
type listener struct {
	addr net.Addr
	kind string
}

// configListeners are the listen and admin addresses cfg names.
func configListeners(cfg *sites.Config) []listener {
	var ls []listener
	for _, c := range slices.Concat(cfg.Server.Listen, cfg.Server.ListenTLS) {
		if a, err := net.ResolveTCPAddr("tcp", c); err == nil {
			ls = append(ls, listener{a, "public"})
		}
	}
	if cfg.Server.Admin != "" {
		if a, err := net.ResolveTCPAddr("tcp", cfg.Server.Admin); err == nil {
			ls = append(ls, listener{a, "admin"})
		}
	}
	return ls
}

// ownListener names the listener of ls at ap ("admin" over "public"), or
// "". A listener on an unspecified address (0.0.0.0, [::]) owns its port
// on every address of the machine.
func ownListener(ls []listener, ap netip.AddrPort) string {
	ip := ap.Addr().Unmap()
	var local []netip.Addr // the machine's addresses, read once if needed
	found := ""
	for _, l := range ls {
		ta, ok := l.addr.(*net.TCPAddr)
		if !ok || ta.Port != int(ap.Port()) || ta.Port == 0 {
			continue
		}
		la, _ := netip.AddrFromSlice(ta.IP)
		la = la.Unmap()
		match := la == ip
		if !match && (!la.IsValid() || la.IsUnspecified()) {
			if local == nil {
				local = localAddrs()
			}
			match = ip.IsLoopback() || slices.Contains(local, ip)
		}
		if match && (found == "" || l.kind == "admin") {
			found = l.kind
		}
	}
	return found
}

// localAddrs are the addresses of the machine's interfaces.
func localAddrs() []netip.Addr {
	as, _ := net.InterfaceAddrs()
	out := []netip.Addr{}
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out
}

// Reload swaps in a new config. In-flight requests finish on the old one;
// unchanged modules are not compiled again. On error the old config keeps
// serving.
func (h *Host) Reload(ctx context.Context, cfg *sites.Config) error {
	start := time.Now()
	err := h.reload(ctx, cfg)
	rec := reloadRecord{At: start, Duration: time.Since(start), Sites: len(h.state.Load().sites)}
	if err != nil {
		rec.Err = err.Error()
	}
	h.reloads.add(rec)
	return err
}

func (h *Host) reload(ctx context.Context, cfg *sites.Config) error {
	c, err := loadCerts(cfg)
	if err != nil {
		return err
	}
	s, err := build(ctx, h.rt, cfg, h.log, h.buildEnv())
	if err != nil {
		return err
	}
	if err := s.warm(ctx); err != nil {
		s.close(ctx)
		return err
	}
	// The new certificates are served from the swap on: only once the
	// whole new config is good.
	s.certs = c
	oldSrv := h.state.Load().cfg.Server
	if !slices.Equal(cfg.Server.Listen, oldSrv.Listen) || !slices.Equal(cfg.Server.ListenTLS, oldSrv.ListenTLS) {
		h.log.Warn().Msg("changing listen or listen_tls (or turning [server] tls on or off) needs a restart; the listeners keep their addresses and mode")
	}
	if (cfg.Server.AdminTLS == nil) != (oldSrv.AdminTLS == nil) {
		h.log.Warn().Msg("turning admin_tls on or off needs a restart; the admin listener keeps its mode")
		if s.certs.admin == nil {
			s.certs.admin = h.state.Load().certs.admin // keep answering HTTPS with the last pair
		}
	}
	h.authLimit.configure(cfg.Server.AuthMaxFailures, cfg.Server.AuthFailureWindow)
	old := h.state.Swap(s)
	old.retire(ctx)
	old.release()
	returnLoadMemory()
	h.mu.Lock()
	listening := len(h.servers) > 0
	h.mu.Unlock()
	if listening {
		h.startACME(cfg)
	}
	return nil
}

// ReopenLogs reopens the access log file (SIGUSR1, after logrotate moved
// it away). It reports false when the access log goes to stdout.
func (h *Host) ReopenLogs() (bool, error) {
	if s := h.state.Load(); s != nil && s.accessFile != nil {
		return true, s.accessFile.Reopen()
	}
	return false, nil
}

// Listen opens the config's listen addresses (plain HTTP), its listen_tls
// addresses (HTTPS, with HTTP/2) and the admin address, and serves them;
// then ACME starts obtaining the certificates it does not have yet.
func (h *Host) Listen() error {
	if err := h.listen(); err != nil {
		return err
	}
	h.startACME(h.state.Load().cfg)
	return nil
}

func (h *Host) listen() error {
	cfg := h.state.Load().cfg.Server
	h.mu.Lock()
	defer h.mu.Unlock()
	fail := func(err error) error {
		for _, s := range h.servers {
			s.Close()
		}
		h.servers, h.addrs = nil, nil
		if h.adminSrv != nil {
			h.adminSrv.Close()
			h.adminSrv = nil
		}
		return err
	}
	for i, addr := range slices.Concat(cfg.Listen, cfg.ListenTLS) {
		useTLS := i >= len(cfg.Listen)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(fmt.Errorf("host: listen %s: %w", addr, err))
		}
		ln = watchedListener{ln, &h.accepts} // see accept.go
		if cfg.MaxConnections > 0 {
			ln = newLimitListener(ln, cfg.MaxConnections)
		}
		if !useTLS {
			ln = headListener{ln} // see framing.go
		}
		srv := h.newServer(cfg, h)
		if useTLS {
			srv.TLSConfig = h.tlsConfig()
			if h.tlsPort == "" {
				_, h.tlsPort, _ = net.SplitHostPort(ln.Addr().String())
				h.firstHTTPS = ln.Addr().String()
			}
		} else if h.firstHTTP == "" {
			h.firstHTTP = ln.Addr().String()
		}
		h.servers = append(h.servers, srv)
		h.addrs = append(h.addrs, ln.Addr())
		h.serve(srv, ln, useTLS)
	}
	if cfg.Admin != "" {
		ln, err := net.Listen("tcp", cfg.Admin)
		if err != nil {
			return fail(fmt.Errorf("host: admin listen %s: %w", cfg.Admin, err))
		}
		srv := h.newServer(cfg, h.adminAuth(h.adminHandler()))
		adminTLS := cfg.AdminTLS != nil
		if adminTLS {
			// Its own certificate, re-read on reload like the others.
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				if c := h.state.Load().certs.admin; c != nil {
					return c, nil
				}
				return nil, errors.New("no admin_tls certificate")
			}}
		}
		h.adminSrv = srv
		h.admin = ln.Addr()
		if h.status == nil {
			h.status = newStatusRecorder(cmp.Or(h.statusEvery, statusStep), func() *snapshot { return snapshotOf(h.state.Load(), time.Now()) })
		}
		h.serve(srv, ln, adminTLS)
	}
	return nil
}

func (h *Host) serve(srv *http.Server, ln net.Listener, useTLS bool) {
	go func() {
		h.log.Info().Str("addr", ln.Addr().String()).Bool("tls", useTLS).Msg("listening")
		var err error
		if useTLS {
			err = srv.ServeTLS(ln, "", "") // HTTP/2 is negotiated by ALPN
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error().Err(err).Str("addr", ln.Addr().String()).Msg("serve")
		}
	}()
}

// Addrs returns the addresses Listen opened (useful with port 0).
func (h *Host) Addrs() []net.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]net.Addr(nil), h.addrs...)
}

// AdminAddr returns the admin listener's address, nil when off.
func (h *Host) AdminAddr() net.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.admin
}

func (h *Host) newServer(cfg sites.Server, handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(httpErrorLog{h.log}, "", 0),
		ConnContext:       withHeadConn,
		// "OPTIONS *" reaches ServeHTTP like any request: net/http would
		// answer it itself, past the framing checks.
		DisableGeneralOptionsHandler: true,
	}
}

// Shutdown stops accepting connections, waits for in-flight requests until
// ctx ends, then closes every instance.
//
// The public listeners drain together (none keeps accepting while another
// drains); the admin listener closes last, so /readyz answers 503 to load
// balancers for the whole drain.
func (h *Host) Shutdown(ctx context.Context) error {
	if h.draining.Swap(true) {
		return nil // already shut down
	}
	h.mu.Lock()
	servers, admin := h.servers, h.adminSrv
	h.mu.Unlock()
	errs := make([]error, len(servers)+2)
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Shutdown(ctx)
		}()
	}
	wg.Wait()
	if m := h.acme.Swap(nil); m != nil {
		m.stop()
	}
	if admin != nil {
		errs[len(servers)] = admin.Shutdown(ctx)
	}
	h.mu.Lock()
	if h.status != nil {
		h.status.close()
	}
	h.mu.Unlock()
	if s := h.state.Load(); s != nil {
		s.close(ctx)
	}
	errs[len(servers)+1] = h.rt.Close(ctx)
	return errors.Join(errs...)
}

// ServeHTTP routes one request: virtual host, cleaned path, longest prefix.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s := h.state.Load()
	for !s.acquire() { // lost a race with Reload: take the new state
		s = h.state.Load()
	}
	defer s.release()

	seen, framingErr := framingOf(r)
	if framingErr != nil || r.ProtoMajor == 1 && (len(r.TransferEncoding) > 0 || r.ProtoMinor == 0 && !seen) {
		// Nothing read after this request is taken as a new one (see
		// framing.go): not after ambiguous framing; not after a chunked
		// body, whose Content-Length net/http dropped and a proxy in front
		// may have framed it by; not after an HTTP/1.0 request whose
		// Transfer-Encoding, dropped by net/http, was never seen.
		w.Header().Set("Connection", "close")
	}
	q := &request{id: requestID(r.Header.Get("X-Request-Id"))}
	if q.id == "" {
		q.id = h.reqID.next()
	}
	w.Header().Set("X-Request-Id", q.id)
	lw := &logWriter{ResponseWriter: w}
	var st *site
	var rt *route
	defer func() {
		took := time.Since(start)
		if st != nil {
			st.count(rt, lw.status)
			st.latency.observe(took)
		}
		s.access.log(r, q, st, rt, lw, took)
	}()

	if framingErr != nil {
		h.fail(lw, r, q, refuse(http.StatusBadRequest, framingErr))
		return
	}
	if m := h.acme.Load(); m != nil && r.TLS == nil && m.handleHTTP(lw, r) {
		return // HTTP-01, before redirect_https and the site's rules
	}
	st = s.vhosts.lookup(r.Host)
	if st == nil {
		h.fail(lw, r, q, refuse(http.StatusMisdirectedRequest, nil))
		return
	}
	if r.TLS == nil && st.redirectHTTPS {
		h.redirectHTTPS(lw, r)
		return
	}
	if r.TLS != nil && st.hsts != "" {
		lw.Header().Set("Strict-Transport-Security", st.hsts)
	}
	if r.RequestURI == "*" && r.Method == http.MethodOptions {
		lw.Header().Set("Content-Length", "0") // as net/http answers it
		lw.WriteHeader(http.StatusOK)
		return
	}
	if hasEncodedSlash(targetPath(r.RequestURI)) {
		h.fail(lw, r, q, refuse(http.StatusBadRequest, errors.New("encoded slash in path")))
		return
	}
	p, ok := cleanPath(r.URL.Path)
	if !ok {
		h.fail(lw, r, q, refuse(http.StatusBadRequest, errors.New("bad path")))
		return
	}
	rt = st.lookup(p)
	if rt == nil {
		h.fail(lw, r, q, refuse(http.StatusNotFound, nil))
		return
	}
	// SCRIPT_NAME, PATH_INFO and SERVER_PORT first: an auth provider sees
	// them too.
	if rt.app != nil {
		q.scriptName, q.pathInfo = splitMount(rt.prefix, p)
	} else {
		q.pathInfo = p
	}
	q.serverPort = localPort(r)
	loc, passAuth := st.location(p)
	if loc != nil && !h.admit(lw, r, q, s, st, loc) {
		return
	}
	if rt.app != nil {
		q.passAuth = passAuth
		h.serveApp(lw, r, q, rt.app, s.cfg.Server.MaxBody)
		return
	}
	defer http.NewResponseController(lw).SetWriteDeadline(time.Time{}) // serveFile bounds its transfer
	h.serveAlias(lw, r, q, s, st, rt.alias, p, loc)
}

// targetPath is the path of a raw request target, as the client sent it:
// what comes before any '?' (an absolute-form target keeps its scheme and
// authority, which hold no "%2F" either).
//
// The encoded-slash rule reads the raw target, never r.URL.EscapedPath():
// that returns RawPath only when it is a valid encoding of Path, and
// otherwise re-encodes Path, in which every %2F has already become a "/".
// One byte that Go's encoder escapes (a quote, a brace, raw UTF-8),
// anywhere in the path, would turn the rule off.
func targetPath(requestURI string) string {
	if i := strings.IndexByte(requestURI, '?'); i >= 0 {
		return requestURI[:i]
	}
	return requestURI
}

// hasEncodedSlash reports a "%2F" or "%2f" in a raw path. Decoded, it
// would be a separator the router and the file system see but the client
// did not write; apps that need one in a segment are rare, and Apache
// refuses it too (AllowEncodedSlashes Off).
func hasEncodedSlash(p string) bool {
	for i := 0; i+2 < len(p); i++ {
		if p[i] == '%' && p[i+1] == '2' && (p[i+2] == 'f' || p[i+2] == 'F') {
			return true
		}
	}
	return false
}

// environPool recycles environ buffers: one per request in flight.
var environPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// serveApp runs the request through the app's pool.
func (h *Host) serveApp(w *logWriter, r *http.Request, q *request, a *app, maxBody int64) {
	if r.ContentLength > maxBody {
		h.fail(w, r, q, refuse(http.StatusRequestEntityTooLarge, nil))
		return
	}
	cfg := a.group.Config()
	// A guest blocked in body_read or body_write cannot be stopped by
	// wazero: bound the connection's reads and writes instead.
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(cfg.QueueTimeout + cfg.RequestTimeout)
	rc.SetReadDeadline(deadline)
	rc.SetWriteDeadline(deadline)
	// WSGI apps may answer while they read the body (streaming, uploads
	// with progress): without this, net/http would consume the whole body
	// before the first response byte leaves.
	rc.EnableFullDuplex()
	defer rc.SetWriteDeadline(time.Time{}) // the next request on this connection starts afresh

	if a.cgi != nil {
		h.serveCGI(w, r, q, a, maxBody)
		return
	}
	bp := environPool.Get().(*[]byte)
	call := &sandbox.Call{
		Environ: appendEnviron((*bp)[:0], r, q, a),
		Body:    sandbox.HTTPBody(w, r, maxBody),
		W:       sandbox.HTTPResponse(w),
		Log:     a.guestLog.With().Str("request_id", q.id).Logger(),
	}
	pool, err := a.pool, error(nil)
	if pool == nil { // compile = "lazy"
		if pool, err = a.lazy.get(r.Context()); err == nil {
			defer a.lazy.done()
		}
	}
	if err == nil {
		err = pool.Serve(r.Context(), call)
	}
	*bp = call.Environ[:0]
	environPool.Put(bp)
	if err == nil && !call.Started() {
		err = errNoResponse
	}
	if err == nil {
		return
	}
	if call.BodyTooLarge() {
		err = refuse(http.StatusRequestEntityTooLarge, err)
	}
	h.appFailed(w, r, q, a, err, call.Started())
}

// localPort is the port of the local address r came in on, "" when
// unknown (SERVER_PORT).
func localPort(r *http.Request) string {
	switch a := r.Context().Value(http.LocalAddrContextKey).(type) {
	case *net.TCPAddr:
		return strconv.Itoa(a.Port) // without formatting the address first
	case net.Addr:
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return port
		}
	}
	return ""
}

// requestID returns an incoming X-Request-Id when it is well-formed (1 to
// 128 characters of letters, digits, '.', '_', '-'), so a request can be
// followed across a load balancer and wasgi; anything else is replaced.
func requestID(in string) string {
	if len(in) == 0 || len(in) > 128 {
		return ""
	}
	for i := 0; i < len(in); i++ {
		c := in[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return ""
		}
	}
	return in
}

// requestIDs makes request ids: a random per-process prefix and a counter,
// unique without a syscall per request.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func (g *requestIDs) init() {
	var b [6]byte
	rand.Read(b[:])
	g.prefix = hex.EncodeToString(b[:])
}

func (g *requestIDs) next() string {
	// prefix-%08x, without fmt: one allocation.
	var tmp [16]byte
	hex := strconv.AppendUint(tmp[:0], g.n.Add(1), 16)
	var b strings.Builder
	b.Grow(len(g.prefix) + 1 + max(8, len(hex)))
	b.WriteString(g.prefix)
	b.WriteByte('-')
	for range 8 - len(hex) {
		b.WriteByte('0')
	}
	b.Write(hex)
	return b.String()
}

// logWriter records the status and size of a response for the access log.
type logWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps sendfile for static files: net/http's own writer does it.
func (w *logWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, src)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends buffered data to the client.
func (w *logWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// httpErrorLog sends net/http's own messages (TLS handshake errors, panics)
// to zerolog.
type httpErrorLog struct{ log zerolog.Logger }

func (l httpErrorLog) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("http: Accept error")) {
		return len(p), nil // one per retry: acceptHealth logs the burst
	}
	l.log.Warn().Str("source", "net/http").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
