package sandbox

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasgi/wasgi/abi"
)

// Errors of [Pool.Serve]; the host turns them into status codes.
var (
	// ErrQueueTimeout: no instance became free within the group's
	// queue_timeout (503).
	ErrQueueTimeout = errors.New("sandbox: no free instance within queue_timeout")
	// ErrTimeout: the request ran past the group's request_timeout and the
	// instance was stopped (504).
	ErrTimeout = errors.New("sandbox: request_timeout exceeded")
	// ErrTrap: the guest trapped or exited; the instance was discarded (500).
	ErrTrap = errors.New("sandbox: guest trapped")
	// ErrAppFailed: wasgi_handle returned non-zero (500 unless a response
	// was started).
	ErrAppFailed = errors.New("sandbox: wasgi_handle failed")
	// ErrInstantiate: a new instance could not be created (500).
	ErrInstantiate = errors.New("sandbox: cannot create instance")
	// ErrClosed: the group was closed, e.g. by a config reload (503).
	ErrClosed = errors.New("sandbox: group closed")
)

// GuestError is a failed guest call, with the tail of what the instance
// wrote to stderr (Go's panic traces land there).
type GuestError struct {
	Kind   error // ErrTimeout, ErrTrap, ErrAppFailed or ErrInstantiate
	Err    error // the wazero error, or nil
	Code   int32 // wasgi_handle's result for ErrAppFailed
	Stderr string
}

func (e *GuestError) Error() string {
	switch {
	case e.Err != nil:
		return e.Kind.Error() + ": " + e.Err.Error()
	case e.Kind == ErrAppFailed:
		return fmt.Sprintf("%v: returned %d", e.Kind, e.Code)
	}
	return e.Kind.Error()
}

// Unwrap makes errors.Is(err, ErrTrap) and friends work.
func (e *GuestError) Unwrap() []error { return []error{e.Kind, e.Err} }

// GroupConfig are the limits of a daemon group (like WSGIDaemonProcess).
type GroupConfig struct {
	Name           string
	Instances      int           // most instances alive at once = most concurrent requests
	MinInstances   int           // instances per app kept warm
	MaxRequests    int           // recycle an instance after this many requests; 0 = never
	RequestTimeout time.Duration // a request running longer is stopped
	QueueTimeout   time.Duration // longest wait for a free instance
	IdleTimeout    time.Duration // instances idle this long are closed, down to MinInstances
}

// Stats are a group's counters and gauges.
type Stats struct {
	InUse, Idle, Queued        int64 // gauges
	Served, Created, Recycled  int64 // counters
	Trapped, TimedOut, Refused int64 // counters
}

// Group shares a capacity of instances between the apps (pools) assigned
// to it. An instance belongs to exactly one app; apps of one group share
// the number of instances, never an instance.
type Group struct {
	rt    *Runtime
	cfg   GroupConfig
	slots chan struct{} // one token per request holding an instance

	mu      sync.Mutex
	alive   int // instances in use + idle
	pools   []*Pool
	closed  bool
	retired bool // replaced by a reload: keep serving, keep nothing idle
	stop    chan struct{}
	roots   []*os.Root // the apps' preopens, closed with the group

	inUse, queued              atomic.Int64
	served, created, recycled  atomic.Int64
	trapped, timedOut, refused atomic.Int64
}

// NewGroup creates a daemon group. Close it when done.
func (r *Runtime) NewGroup(cfg GroupConfig) *Group {
	if cfg.Instances < 1 {
		cfg.Instances = 1
	}
	g := &Group{rt: r, cfg: cfg, slots: make(chan struct{}, cfg.Instances), stop: make(chan struct{})}
	if cfg.IdleTimeout > 0 {
		go g.reap()
	}
	return g
}

// Config returns the group's limits.
func (g *Group) Config() GroupConfig { return g.cfg }

// Stats returns a snapshot of the group's counters.
func (g *Group) Stats() Stats {
	g.mu.Lock()
	idle := g.alive - int(g.inUse.Load())
	g.mu.Unlock()
	return Stats{
		InUse: g.inUse.Load(), Idle: int64(max(idle, 0)), Queued: g.queued.Load(),
		Served: g.served.Load(), Created: g.created.Load(), Recycled: g.recycled.Load(),
		Trapped: g.trapped.Load(), TimedOut: g.timedOut.Load(), Refused: g.refused.Load(),
	}
}

// Close stops the group: idle instances are closed now, busy ones when
// their request ends. Requests still queued get ErrClosed.
func (g *Group) Close(ctx context.Context) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	close(g.stop)
	idle := g.takeAllIdle()
	roots := g.roots
	g.roots = nil
	g.mu.Unlock()
	for _, in := range idle {
		in.close(ctx)
	}
	// Only the config's close (no request left on it) or shutdown closes a
	// group, so no instance still uses these.
	closeRoots(roots)
}

// Retire is for a group that a reload replaced: its idle instances are
// closed now, and an instance finishing a request is closed rather than
// kept. Requests still running on the old config are served to the end
// (with a new instance if they need one), so a reload fails no request,
// and a slow client of the old config pins no warm instances.
func (g *Group) Retire(ctx context.Context) {
	g.mu.Lock()
	if g.closed || g.retired {
		g.mu.Unlock()
		return
	}
	g.retired = true
	idle := g.takeAllIdle()
	g.mu.Unlock()
	for _, in := range idle {
		in.close(ctx)
	}
}

// takeAllIdle removes every idle instance of the group, for the caller to
// close outside the lock. g.mu must be held.
func (g *Group) takeAllIdle() []*instance {
	var idle []*instance
	for _, p := range g.pools {
		idle = append(idle, p.idle...)
		p.alive -= len(p.idle)
		p.idle = nil
	}
	g.alive -= len(idle)
	return idle
}

// reap closes instances idle longer than IdleTimeout, keeping MinInstances
// per app.
func (g *Group) reap() {
	tick := time.NewTicker(max(g.cfg.IdleTimeout/4, 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-g.stop:
			return
		case now := <-tick.C:
			var old []*instance
			g.mu.Lock()
			for _, p := range g.pools {
				// idle is a stack: the oldest are at the bottom.
				n := 0
				for n < len(p.idle) && p.alive-n > g.cfg.MinInstances && now.Sub(p.idle[n].lastUsed) > g.cfg.IdleTimeout {
					n++
				}
				old = append(old, p.idle[:n]...)
				p.idle = append(p.idle[:0], p.idle[n:]...)
				p.alive -= n
			}
			g.alive -= len(old)
			g.mu.Unlock()
			for _, in := range old {
				in.close(context.Background())
			}
		}
	}
}

// Dir is a host directory preopened in the guest.
type Dir struct {
	Guest, Host string
	ReadOnly    bool
}

// AppConfig is what an app's instances get: nothing else of the host or of
// other apps is visible to them.
type AppConfig struct {
	// Name is the app's name in logs and argv[0], e.g. "mysite/main".
	Name string
	// Env is the WASI environment (os.Getenv in the guest).
	Env map[string]string
	// Dirs are the WASI preopens.
	Dirs []Dir
	// MemoryLimit caps each instance's linear memory, in bytes; 0 = 4 GiB.
	MemoryLimit uint64
	// Logger gets the guest's stdout, stderr and log calls (the host
	// rate-limits it).
	Logger zerolog.Logger
	// HostLogger gets the sandbox's own events about the app.
	HostLogger zerolog.Logger
	// Snapshot starts instances after the first from a copy of the
	// first one's state right after _initialize (see snapshot.go).
	Snapshot bool
}

// Pool holds the instances of one app in a group.
type Pool struct {
	g      *Group
	m      *Module
	cfg    AppConfig
	modCfg wazero.ModuleConfig

	idle  []*instance // guarded by g.mu; a stack, most recently used on top
	alive int         // guarded by g.mu; this app's instances, idle or busy
	warm  atomic.Bool // a Warm is running

	snap atomic.Pointer[snapshot] // with cfg.Snapshot, once the first instance is up
}

// NewPool adds an app running module m to the group.
func (g *Group) NewPool(m *Module, cfg AppConfig) (*Pool, error) {
	if m.Kind != Reactor {
		return nil, fmt.Errorf("sandbox: %s: module %s is a WASI command, not a wasgi reactor", cfg.Name, m.Path)
	}
	mc, roots, err := moduleConfig(m, cfg)
	if err != nil {
		return nil, err
	}
	p := &Pool{g: g, m: m, cfg: cfg, modCfg: mc}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		closeRoots(roots)
		return nil, ErrClosed
	}
	g.pools = append(g.pools, p)
	g.roots = append(g.roots, roots...)
	return p, nil
}

// Module returns the compiled module the pool instantiates.
func (p *Pool) Module() *Module { return p.m }

// moduleConfig is what every instance of an app gets: its args, env,
// preopens, real clocks and a crypto random source; nothing else. The
// preopens' roots stay open for the app's life: the caller closes them.
func moduleConfig(m *Module, cfg AppConfig) (_ wazero.ModuleConfig, roots []*os.Root, err error) {
	if cfg.MemoryLimit > 0 && m.MinMemory > cfg.MemoryLimit {
		return nil, nil, fmt.Errorf("sandbox: %s: module %s needs %d KiB of memory at start, memory_limit is %d KiB",
			cfg.Name, m.Path, m.MinMemory>>10, cfg.MemoryLimit>>10)
	}
	mc := wazero.NewModuleConfig().
		WithName("").
		WithArgs(cfg.Name).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader)
	switch {
	case m.Kind == Command:
		mc = mc.WithStartFunctions(abi.FuncStart)
	case m.initialize:
		mc = mc.WithStartFunctions(abi.FuncInitialize)
	default:
		mc = mc.WithStartFunctions()
	}
	for k, v := range cfg.Env {
		mc = mc.WithEnv(k, v)
	}
	fsc := wazero.NewFSConfig()
	for _, d := range cfg.Dirs {
		fsys, root, err := newRootFS(d.Host, d.ReadOnly)
		if err != nil {
			closeRoots(roots)
			return nil, nil, fmt.Errorf("sandbox: %s: dir %s: %w", cfg.Name, d.Guest, err)
		}
		roots = append(roots, root)
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(fsys, d.Guest)
	}
	return mc.WithFSConfig(fsc), roots, nil
}

func closeRoots(roots []*os.Root) {
	for _, r := range roots {
		r.Close()
	}
}

// Warm creates instances until the app has MinInstances of them (idle or
// busy, within the group's capacity), so requests do not pay for
// instantiation. It runs at start and reload, and again in the background
// whenever a trap, a timeout or max_requests takes an instance away.
func (p *Pool) Warm(ctx context.Context) error {
	g := p.g
	for {
		// An instance being created holds a slot, like one serving a
		// request: then every instance that is not idle holds a slot, and
		// a request that finds the group full always has an idle instance
		// to evict. Without a free slot the group is busy: stop warming.
		select {
		case g.slots <- struct{}{}:
			g.inUse.Add(1)
		default:
			return nil
		}
		g.mu.Lock()
		need := p.alive < g.cfg.MinInstances && g.alive < g.cfg.Instances && !g.closed && !g.retired
		if need {
			g.alive++
			p.alive++
		}
		g.mu.Unlock()
		if !need {
			g.releaseSlot()
			return nil
		}
		in, err := p.newInstance(ctx)
		g.mu.Lock()
		if err != nil || g.closed {
			g.alive--
			p.alive--
			g.mu.Unlock()
			g.releaseSlot()
			if in != nil {
				in.close(ctx)
			}
			return err
		}
		in.lastUsed = time.Now()
		p.idle = append(p.idle, in)
		g.mu.Unlock()
		g.releaseSlot()
	}
}

// Serve runs one request through the app's wasgi_handle export.
func (p *Pool) Serve(ctx context.Context, c *Call) error {
	_, err := p.call(ctx, c, phaseHandle)
	return err
}

// ErrNoAuthExport: the module does not export the auth function asked for.
var ErrNoAuthExport = errors.New("sandbox: module does not export the auth function")

// CheckPassword asks the app's wasgi_check_password export whether
// c.User and c.Password are right, with c.Environ as the request environ.
// It returns abi.AuthOK, abi.AuthDenied or abi.AuthUnknownUser; any other
// result is an error, never a way in.
func (p *Pool) CheckPassword(ctx context.Context, c *Call) (int32, error) {
	if !p.m.CheckPassword {
		return 0, ErrNoAuthExport
	}
	code, err := p.call(ctx, c, phaseCheckPassword)
	if err != nil {
		return 0, err
	}
	switch code {
	case abi.AuthOK, abi.AuthDenied, abi.AuthUnknownUser:
		return code, nil
	}
	return 0, &GuestError{Kind: ErrAppFailed, Code: code}
}

// GroupsForUser asks the app's wasgi_groups_for_user export for the groups
// of c.User. A module without the export puts every user in no group.
func (p *Pool) GroupsForUser(ctx context.Context, c *Call) ([]string, error) {
	if !p.m.GroupsForUser {
		return nil, nil
	}
	code, err := p.call(ctx, c, phaseGroups)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, &GuestError{Kind: ErrAppFailed, Code: code}
	}
	return c.groups, nil
}

// exports maps each phase to the guest export it calls.
var exports = [...]string{
	phaseHandle:        abi.FuncHandle,
	phaseCheckPassword: abi.FuncCheckPassword,
	phaseGroups:        abi.FuncGroupsForUser,
}

// call runs one export on an instance of the pool, bounded by the group's
// request_timeout; on any failure the instance is discarded.
func (p *Pool) call(ctx context.Context, c *Call, ph phase) (int32, error) {
	in, err := p.acquire(ctx)
	if err != nil {
		return 0, err
	}
	c.phase = ph
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.g.cfg.RequestTimeout)
	dl, _ := cctx.Deadline()
	in.deadline.Store(dl.UnixNano())
	res, err := p.run(cctx, in, ph, c)
	cancel()
	c.phase = phaseNone
	in.requests++
	p.release(in, err == nil)
	p.g.served.Add(1)
	if err != nil {
		gerr := &GuestError{Kind: ErrTrap, Err: err, Stderr: in.stderr.String()}
		var exit *sys.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded {
			gerr.Kind = ErrTimeout
			p.g.timedOut.Add(1)
		} else {
			p.g.trapped.Add(1)
		}
		return 0, gerr
	}
	code := api.DecodeI32(res[0])
	if code != 0 && ph == phaseHandle {
		// Keep what the guest said about it (Go's panic trace).
		return code, &GuestError{Kind: ErrAppFailed, Code: code, Stderr: in.stderr.String()}
	}
	return code, nil
}

// acquire takes a slot in the group, waiting up to QueueTimeout, then an
// idle instance of this app or a new one.
func (p *Pool) acquire(ctx context.Context) (*instance, error) {
	g := p.g
	if err := g.acquireSlot(ctx); err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		g.releaseSlot()
		return nil, ErrClosed
	}
	if n := len(p.idle); n > 0 {
		in := p.idle[n-1]
		p.idle = p.idle[:n-1]
		g.mu.Unlock()
		return in, nil
	}
	// Capacity is shared: when the group is full of other apps' idle
	// instances, close the oldest of them to make room for this app.
	var evict *instance
	if g.alive >= g.cfg.Instances {
		evict = g.takeOldestIdle()
		if evict != nil {
			g.alive--
		}
	}
	g.alive++
	p.alive++
	g.mu.Unlock()
	if evict != nil {
		evict.close(ctx)
	}
	in, err := p.newInstance(ctx)
	if err != nil {
		g.mu.Lock()
		g.alive--
		p.alive--
		g.mu.Unlock()
		g.releaseSlot()
		return nil, &GuestError{Kind: ErrInstantiate, Err: err}
	}
	return in, nil
}

// acquireSlot waits up to QueueTimeout for a slot of the group's capacity.
func (g *Group) acquireSlot(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
	default:
		g.queued.Add(1)
		t := time.NewTimer(g.cfg.QueueTimeout)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
			g.queued.Add(-1)
		case <-t.C:
			g.queued.Add(-1)
			g.refused.Add(1)
			return ErrQueueTimeout
		case <-ctx.Done():
			g.queued.Add(-1)
			return ctx.Err()
		case <-g.stop:
			g.queued.Add(-1)
			return ErrClosed
		}
	}
	g.inUse.Add(1)
	return nil
}

func (g *Group) releaseSlot() {
	g.inUse.Add(-1)
	<-g.slots
}

// takeOldestIdle removes the least recently used idle instance of the
// group. g.mu must be held.
func (g *Group) takeOldestIdle() *instance {
	var from *Pool
	for _, p := range g.pools {
		if len(p.idle) > 0 && (from == nil || p.idle[0].lastUsed.Before(from.idle[0].lastUsed)) {
			from = p
		}
	}
	if from == nil {
		return nil
	}
	in := from.idle[0]
	from.idle = append(from.idle[:0], from.idle[1:]...)
	from.alive--
	return in
}

// release returns an instance after a request. A failed call leaves the
// instance in an unknown state (a Go guest that trapped is broken for good),
// so it is closed; so is one that served MaxRequests.
func (p *Pool) release(in *instance, ok bool) {
	g := p.g
	recycle := g.cfg.MaxRequests > 0 && in.requests >= g.cfg.MaxRequests
	g.mu.Lock()
	keep := ok && !recycle && !g.closed && !g.retired
	if keep {
		in.lastUsed = time.Now()
		p.idle = append(p.idle, in)
	} else {
		g.alive--
		p.alive--
	}
	refill := !keep && !g.closed && !g.retired && p.alive < g.cfg.MinInstances
	g.mu.Unlock()
	g.releaseSlot()
	if !keep {
		if ok && recycle {
			g.recycled.Add(1)
		}
		in.close(context.Background())
	}
	if refill && p.warm.CompareAndSwap(false, true) {
		go func() {
			defer p.warm.Store(false)
			if err := p.Warm(context.Background()); err != nil {
				p.cfg.HostLogger.Error().Err(err).Msg("refilling min_instances")
			}
		}()
	}
}

// instance is one live instantiation of an app's module.
type instance struct {
	deadline  *atomic.Int64 // of the running call, for sleeps; see boundedSleep
	mod       api.Module
	mem       *memoryAllocator           // its linear memory; nil without a memory_limit
	interrupt api.MutableGlobal          // of an instrumented module (interrupt.go)
	fns       [len(exports)]api.Function // by phase
	stderr    *tailWriter
	requests  int
	lastUsed  time.Time
}

type logKey struct{}

func instanceLogFrom(ctx context.Context) *zerolog.Logger {
	l, _ := ctx.Value(logKey{}).(*zerolog.Logger)
	return l
}

func (p *Pool) newInstance(ctx context.Context) (in *instance, err error) {
	stderr := newTailWriter(p.cfg.Logger, zerolog.WarnLevel, "stderr")
	stdout := newTailWriter(p.cfg.Logger, zerolog.InfoLevel, "stdout")
	deadline := new(atomic.Int64)
	deadline.Store(time.Now().Add(p.g.cfg.RequestTimeout).UnixNano()) // for _initialize
	mc := p.modCfg.WithStdout(stdout).WithStderr(stderr).WithNanosleep(boundedSleep(deadline))
	ctx = context.WithValue(context.WithoutCancel(ctx), logKey{}, &p.cfg.Logger)
	var mem *memoryAllocator
	if p.cfg.MemoryLimit > 0 {
		mem = newMemoryAllocator(p.cfg.MemoryLimit)
		ctx = experimental.WithMemoryAllocator(ctx, mem)
	}
	// _initialize runs guest code (Go's package init): bound it like a request.
	ctx, cancel := context.WithTimeout(ctx, p.g.cfg.RequestTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil { // an allocator refusing the initial memory
			err = fmt.Errorf("instantiate %s: %v", p.m.Path, r)
		}
	}()
	var mod api.Module
	var interrupt api.MutableGlobal
	start := time.Now()
	snap := p.snap.Load()
	if snap != nil || p.m.stop == byInterrupt {
		// Started by hand below: a snapshot replaces _initialize, and an
		// instrumented module's _initialize must run with its interrupt
		// global armed.
		mc = mc.WithStartFunctions()
	}
	deprioritized(func() {
		mem.inUse(func() {
			if mod, err = p.m.rt.InstantiateModule(ctx, p.m.compiled, mc); err != nil {
				return
			}
			if p.m.stop == byInterrupt {
				var ok bool
				if interrupt, ok = mod.ExportedGlobal(interruptExport).(api.MutableGlobal); !ok {
					err = errors.New("no interrupt global")
					return
				}
			}
			// armed runs f with the instance's guest stoppable at the deadline.
			armed := func(f func() error) error {
				if interrupt == nil {
					return f()
				}
				var ferr error
				if interrupted(ctx, interrupt, func() { ferr = f() }) && ferr != nil {
					return fmt.Errorf("%s: request_timeout exceeded", abi.FuncInitialize)
				}
				return ferr
			}
			switch {
			case snap != nil:
				err = armed(func() error { return snap.restore(ctx, mod) })
				return
			case p.m.stop == byInterrupt && p.m.initialize:
				if err = armed(func() error {
					_, err := mod.ExportedFunction(abi.FuncInitialize).Call(ctx)
					return err
				}); err != nil {
					return
				}
			}
			if p.cfg.Snapshot {
				if s, serr := takeSnapshot(mod); serr == nil {
					if p.snap.CompareAndSwap(nil, s) {
						p.cfg.HostLogger.Info().Int("memory", len(s.mem)).Dur("start", time.Since(start)).
							Msg("first instance started; the next ones start from its snapshot")
					}
				} else {
					p.cfg.HostLogger.Warn().Err(serr).Msg("instances of this app cannot start from a snapshot")
				}
			}
		})
	})
	if err != nil {
		if mod != nil {
			mod.Close(ctx)
		}
		return nil, fmt.Errorf("instantiate %s: %w (stderr: %q)", p.m.Path, err, stderr.String())
	}
	p.g.created.Add(1)
	mem.refill()
	in = &instance{mod: mod, mem: mem, stderr: stderr, deadline: deadline, interrupt: interrupt}
	for ph, name := range exports {
		if name != "" {
			in.fns[ph] = mod.ExportedFunction(name) // nil when the module lacks it
		}
	}
	return in, nil
}

// boundedSleep is the guest's nanosleep (WASI poll_oneoff on a clock):
// it never sleeps past the running call's deadline. wazero cannot
// interrupt a host-side sleep, so without this a guest sleeping for an hour
// would hold its instance for an hour whatever request_timeout says; cut
// short, the guest wakes, runs, and is stopped at its next yield.
func boundedSleep(deadline *atomic.Int64) sys.Nanosleep {
	return func(ns int64) {
		d := time.Duration(ns)
		if left := time.Until(time.Unix(0, deadline.Load())); d > left {
			d = max(left, 0)
		}
		time.Sleep(d)
	}
}

func (in *instance) close(ctx context.Context) {
	in.mod.Close(ctx)
}
