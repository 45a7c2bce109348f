package host

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/sandbox"
	"github.com/wasgi/wasgi/sites"
)

// state is one loaded config: sites, routes and the daemon groups serving
// them. A reload builds a new state beside the old one and swaps it in; the
// old state closes when its last in-flight request ends.
type state struct {
	cfg       *sites.Config
	vhosts    vhosts
	groups    map[string]*sandbox.Group
	apps      []*app
	aliases   []*alias
	sites     []*site
	rt        *sandbox.Runtime
	compileMu sync.Mutex                 // guards modules and compiled
	modules   []*sandbox.Module          // compiled for this config; released on close
	compiled  map[string]*sandbox.Module // by file: one reference per module in modules
	pythonDir string                     // the Python runtime, found when an app needs it
	env       buildEnv                   // what the host gives every config

	certs      *certs     // the TLS certificates and admin token read for cfg
	authCache  *authCache // nil when [server] auth_cache is 0
	access     accessLogger
	accessFile *logFile // nil when the access log goes to stdout

	refs      atomic.Int64 // 1 for being current + 1 per request in flight
	closeOnce sync.Once
}

// buildEnv is what a config's state takes from the Host that outlives it.
type buildEnv struct {
	metrics *metrics
	// own names the host listener at an address (see Host.ownAddr; guests
	// may not connect to them); nil: none.
	own func(netip.AddrPort) string
}

type site struct {
	name        string
	counts      map[string]*statusCounts // by target: app name, "static", "-"; shared through Host.metrics
	latency     *histogram
	apps        map[string]*app // by name, for auth providers
	routes      []*route
	locations   []*accessRule // longest prefix first
	directories []*accessRule // longest path first

	redirectHTTPS bool   // plain HTTP answers 308 to https://
	hsts          string // Strict-Transport-Security on HTTPS answers; "" none
}

// build compiles modules and creates groups and pools for cfg. On error
// everything it created is closed again.
//
// Counters come from env's metrics, so they continue those of the config
// it replaces.
func build(ctx context.Context, rt *sandbox.Runtime, cfg *sites.Config, log zerolog.Logger, env buildEnv) (_ *state, err error) {
	m := env.metrics
	s := &state{cfg: cfg, rt: rt, env: env, certs: &certs{}, vhosts: vhosts{exact: map[string]*site{}}, groups: map[string]*sandbox.Group{}}
	if s.access, s.accessFile, err = newAccessLogger(cfg.Server.AccessLog, cfg.Server.AccessLogFile, log); err != nil {
		return nil, err
	}
	if cfg.Server.AuthCache > 0 {
		s.authCache = newAuthCache(cfg.Server.AuthCache)
	}
	s.refs.Store(1)
	defer func() {
		if err != nil {
			s.close(ctx)
		}
	}()
	for name, g := range cfg.Groups {
		if !g.HardTimeout {
			log.Warn().Str("group", name).
				Msg("hard_timeout = false is deprecated and ignored: request_timeout stops every guest, now at no measurable cost (docs/PERFORMANCE.md)")
		}
		s.groups[name] = rt.NewGroup(sandbox.GroupConfig{
			Name:           name,
			Instances:      g.Instances,
			MinInstances:   g.MinInstances,
			MaxRequests:    g.MaxRequests,
			RequestTimeout: g.RequestTimeout,
			QueueTimeout:   g.QueueTimeout,
			IdleTimeout:    g.IdleTimeout,
			Counters:       m.group(name),
		})
	}
	s.precompile(ctx, cfg)
	var errs []error
	for _, sc := range cfg.Sites {
		st := &site{name: sc.Name, redirectHTTPS: sc.RedirectHTTPS, hsts: sc.HSTS, apps: map[string]*app{}, latency: m.siteLatency(sc.Name),
			counts: map[string]*statusCounts{"static": m.target(sc.Name, "static"), "-": m.target(sc.Name, "-")}}
		for _, ac := range sc.Apps {
			a, err := newApp(ctx, rt, s, sc, ac, log)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			s.apps = append(s.apps, a)
			st.apps[ac.Name] = a
			st.counts[ac.Name] = m.target(sc.Name, ac.Name)
			st.routes = append(st.routes, &route{prefix: ac.Mount, app: a})
		}
		for _, al := range sc.Aliases {
			a, err := openAlias(al.URL, al.Path, al.File)
			if err != nil {
				errs = append(errs, fmt.Errorf("site %s: %w", sc.Name, err))
				continue
			}
			s.aliases = append(s.aliases, a)
			st.routes = append(st.routes, &route{prefix: al.URL, exact: al.File, alias: a})
		}
		st.locations, st.directories = newAccessRules(sc.Locations, sc.Directories)
		for _, rule := range append(append([]*accessRule(nil), st.locations...), st.directories...) {
			if rule.auth == "" {
				continue
			}
			// sites checked that the provider is an app of this site; only
			// the compiled module can tell whether it answers auth checks.
			if p := st.apps[rule.auth]; p != nil && p.python && !p.checkPassword {
				errs = append(errs, fmt.Errorf("site %s: %s: auth provider %q %w", sc.Name, rule.prefix, rule.auth, errNoCheckPassword))
			} else if p != nil && (p.pool == nil || !p.pool.Module().CheckPassword) {
				errs = append(errs, fmt.Errorf("site %s: %s: auth provider %q does not export %s (Go: import github.com/wasgi/wasgi/abi/guest/auth)",
					sc.Name, rule.prefix, rule.auth, abi.FuncCheckPassword))
			}
		}
		sortRoutes(st.routes)
		s.sites = append(s.sites, st)
		for _, h := range sc.Hosts {
			s.vhosts.add(h, st)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// compile compiles the module at path once per config: apps naming the
// same file share one read, one hash and one reference (hashing the same
// 2 MiB Go module for each of 100 sites took most of a start).
func (s *state) compile(ctx context.Context, path string) (*sandbox.Module, error) {
	s.compileMu.Lock()
	defer s.compileMu.Unlock()
	if m := s.compiled[path]; m != nil {
		return m, nil
	}
	m, err := s.rt.Compile(ctx, path)
	if err != nil {
		return nil, err
	}
	s.keep(path, m)
	return m, nil
}

// keep records m, compiled from path, as this config's; s.compileMu held.
func (s *state) keep(path string, m *sandbox.Module) {
	if s.compiled == nil {
		s.compiled = map[string]*sandbox.Module{}
	}
	s.compiled[path] = m
	s.modules = append(s.modules, m)
}

// precompile compiles the config's module files, GOMAXPROCS at a time:
// a start or reload with many different modules is bound by compiling (or
// loading from the cache) each of them. A file that fails is left to
// compile, which fails again and names the app.
func (s *state) precompile(ctx context.Context, cfg *sites.Config) {
	var paths []string
	seen := map[string]bool{}
	for _, sc := range cfg.Sites {
		for _, ac := range sc.Apps {
			if ac.Runtime != "python" && !lazyApp(cfg, sc, ac) && !seen[ac.Module] {
				seen[ac.Module] = true
				paths = append(paths, ac.Module)
			}
		}
	}
	if len(paths) < 2 {
		return
	}
	mods := make([]*sandbox.Module, len(paths))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, path := range paths {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			mods[i], _ = s.rt.Compile(ctx, path)
		})
	}
	wg.Wait()
	s.compileMu.Lock()
	defer s.compileMu.Unlock()
	for i, m := range mods {
		if m != nil {
			s.keep(paths[i], m)
		}
	}
}

// lazyApp reports whether ac is compiled on its first request: with
// compile = "lazy", a reactor whose group keeps no warm instances and that
// no auth rule of its site names (the host must know at load whether a
// provider exports wasgi_check_password). Python apps share the runtime's
// module, compiled once anyway.
func lazyApp(cfg *sites.Config, sc *sites.Site, ac *sites.App) bool {
	if cfg.Server.Compile != "lazy" || ac.ABI == "cgi" || ac.Runtime == "python" || cfg.Groups[ac.Group].MinInstances > 0 {
		return false
	}
	for _, d := range sc.Directories {
		if d.Auth == ac.Name {
			return false
		}
	}
	for _, l := range sc.Locations {
		if l.Auth == ac.Name {
			return false
		}
	}
	return true
}

// lazyPool is the pool of a lazily compiled app, created by its first
// request. A module that fails to compile fails every request of this
// config (500; logged once, by the request that compiled it), without
// compiling again each time; a reload tries again.
//
// Once idle_timeout has closed the app's last instance and no request
// came for idle_timeout, the pool is unloaded and its module released:
// an app that is requested once a day does not keep its machine code (20
// MB for a Go guest) all day. Its next request compiles it again, from
// the cache (~0.2 s).
type lazyPool struct {
	s    *state
	app  *app
	path string
	cfg  sandbox.AppConfig
	idle time.Duration // the group's idle_timeout

	mu     sync.Mutex
	pool   atomic.Pointer[sandbox.Pool]
	mod    *sandbox.Module // the reference pool holds; nil while unloaded
	err    error
	users  int       // requests between get and done
	last   time.Time // when users last fell to 0
	timer  *time.Timer
	closed bool // the state closed: no more unloading
}

// get returns the app's pool, compiling its module first if needed.
// Requests that arrive meanwhile wait for the same compile. A nil error
// must be followed by done once the call on the pool returned.
func (l *lazyPool) get(ctx context.Context) (*sandbox.Pool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.pool.Load(); p != nil {
		l.users++
		return p, nil
	}
	if l.err != nil {
		return nil, &lazyFailure{err: l.err}
	}
	a := l.app
	start := time.Now()
	m, err := l.s.rt.Compile(context.WithoutCancel(ctx), l.path)
	if err == nil {
		var p *sandbox.Pool
		if p, err = a.group.NewPool(m, l.cfg); err == nil {
			l.pool.Store(p)
			l.mod = m
			l.users++
			a.log.Info().Dur("took", time.Since(start)).Msg("app ready on its first request (compile = \"lazy\")")
			return p, nil
		}
		l.s.rt.Release(context.WithoutCancel(ctx), m)
	}
	l.err = fmt.Errorf("site %s app %s: %w", a.site, a.name, err)
	return nil, &lazyFailure{err: l.err, first: true}
}

// done ends a call that get let through.
func (l *lazyPool) done() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.users--; l.users == 0 {
		l.last = time.Now()
		if l.timer == nil && !l.closed {
			l.timer = time.AfterFunc(l.idle+l.idle/4, l.unloadIdle)
		}
	}
}

// unloadIdle unloads the pool if it stayed unused for idle_timeout and
// has no instance left, else looks again later.
func (l *lazyPool) unloadIdle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	p := l.pool.Load()
	if l.closed || p == nil || l.users > 0 {
		return // done arms the timer again
	}
	if wait := l.idle - time.Since(l.last); wait > 0 {
		l.timer = time.AfterFunc(wait+l.idle/4, l.unloadIdle)
		return
	}
	if _, failing := p.StartFailure(); failing || !p.Unload() {
		// An instance is left (the reaper closes it within a quarter of
		// idle_timeout), or the app fails to start: unloading would lose
		// its back-off.
		l.timer = time.AfterFunc(l.idle/4, l.unloadIdle)
		return
	}
	l.pool.Store(nil)
	l.s.rt.Release(context.Background(), l.mod)
	l.mod = nil
	l.app.log.Info().Dur("idle", time.Since(l.last).Round(time.Second)).Msg("app unloaded after idle_timeout (compile = \"lazy\"); its next request compiles it again")
}

// close stops unloading and releases the module; the state's groups are
// closed (no instance uses it any more).
func (l *lazyPool) close(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if l.mod != nil {
		l.s.rt.Release(ctx, l.mod)
		l.mod = nil
	}
}

// lazyFailure is a lazy app's compile error: first for the request whose
// compile failed (the one logged), not for the requests after it.
type lazyFailure struct {
	err   error
	first bool
}

func (e *lazyFailure) Error() string { return e.err.Error() }
func (e *lazyFailure) Unwrap() error { return e.err }

// warm creates every app's min_instances.
func (s *state) warm(ctx context.Context) error {
	var errs []error
	for _, a := range s.apps {
		if a.pool == nil {
			continue
		}
		if err := a.pool.Warm(ctx); err != nil {
			errs = append(errs, fmt.Errorf("site %s app %s: %w", a.site, a.name, err))
		}
	}
	return errors.Join(errs...)
}

// retire prepares a replaced state: its groups keep serving the requests
// still running on it but keep no idle instance (see sandbox.Group.Retire).
func (s *state) retire(ctx context.Context) {
	for _, g := range s.groups {
		g.Retire(ctx)
	}
}

// acquire takes a reference for a request; it fails once the state closed.
func (s *state) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one closes the state.
func (s *state) release() {
	if s.refs.Add(-1) == 0 {
		s.close(context.Background())
	}
}

func (s *state) close(ctx context.Context) {
	s.closeOnce.Do(func() {
		for _, g := range s.groups {
			g.Close(ctx)
		}
		for _, a := range s.aliases {
			a.close()
		}
		if s.accessFile != nil {
			s.accessFile.Close()
		}
		for _, a := range s.apps {
			if a.lazy != nil {
				a.lazy.close(ctx)
			}
		}
		s.compileMu.Lock()
		for _, m := range s.modules {
			s.rt.Release(ctx, m)
		}
		s.compileMu.Unlock()
	})
}

// count records a response for /metrics.
func (st *site) count(rt *route, status int) {
	target := "-"
	switch {
	case rt == nil:
	case rt.app != nil:
		target = rt.app.name
	default:
		target = "static"
	}
	st.counts[target].add(status)
}

// groupStats is sandbox.Stats, named here for the metrics table.
type groupStats = sandbox.Stats
