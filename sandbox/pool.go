package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/wasgi/wasgi/abi"
)

// Pool holds the instances of one app in a group.
type Pool struct {
	g      *Group
	m      *Module
	cfg    AppConfig
	modCfg wazero.ModuleConfig
	dirs   preopens

	idle     []*instance // guarded by g.mu; a stack, most recently used on top
	alive    int         // guarded by g.mu; this app's instances, idle or busy
	unloaded bool        // guarded by g.mu; see Unload
	roots    []*os.Root  // the app's preopens, also in g.roots
	warm     atomic.Bool // a Warm is running

	start startState               // failing starts: see start.go
	snap  atomic.Pointer[snapshot] // with cfg.Snapshot, once the first instance is up
	net   *netState                // shared by the instances: one sampled log of refusals
	locks []lockRoot               // the app's dirs, for file_lock
}

// NewPool adds an app running module m to the group.
func (g *Group) NewPool(m *Module, cfg AppConfig) (*Pool, error) {
	if m.Kind != Reactor {
		return nil, fmt.Errorf("sandbox: %s: module %s is a WASI command, not a wasgi reactor", cfg.Name, m.Path)
	}
	mc, dirs, roots, err := moduleConfig(g.rt, m, cfg)
	if err != nil {
		return nil, err
	}
	p := &Pool{g: g, m: m, cfg: cfg, modCfg: mc, dirs: dirs, roots: roots, net: newNetState(cfg), locks: lockRoots(cfg.Dirs, roots)}
	if p.start.total = cfg.StartFailures; p.start.total == nil {
		p.start.total = new(atomic.Int64)
	}
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

// Unload takes the pool out of its group if it has no instance (idle or
// busy), so that its module can be released, and closes its preopened
// dirs; it reports whether the pool is now unloaded. A call on an unloaded
// pool fails with ErrClosed: the caller makes a new pool for the app's
// next request. For a lazily compiled app that went idle (host/state.go):
// its machine code and snapshot go back to the OS.
func (p *Pool) Unload() bool {
	g := p.g
	g.mu.Lock()
	if p.unloaded || p.alive > 0 || g.closed {
		done := p.unloaded
		g.mu.Unlock()
		return done
	}
	p.unloaded = true
	g.pools = slices.DeleteFunc(g.pools, func(q *Pool) bool { return q == p })
	g.roots = slices.DeleteFunc(g.roots, func(r *os.Root) bool { return slices.Contains(p.roots, r) })
	snap := p.snap.Swap(nil)
	g.mu.Unlock()
	snap.close() // no instance is starting from it: p.alive is 0
	closeRoots(p.roots)
	return true
}

// Module returns the compiled module the pool instantiates.
func (p *Pool) Module() *Module { return p.m }

// Warm creates instances until the app has MinInstances of them (idle or
// busy, within the group's capacity), so requests do not pay for
// instantiation. It runs at start and reload, and again in the background
// whenever a trap, a timeout or max_requests takes an instance away.
func (p *Pool) Warm(ctx context.Context) error {
	g := p.g
	for {
		// A refill after traps is a replacement too (respawn.go): it
		// waits for its turn, holding no slot meanwhile.
		if err := g.respawn.wait(ctx, time.Now().Add(time.Minute)); err != nil {
			return nil
		}
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
		var probe bool
		var err error
		if need {
			if probe, err = p.start.begin(time.Now()); err != nil {
				need = false // failing to start: no refill before the backoff passed
			}
		}
		if need {
			g.alive++
			p.alive++
		}
		g.mu.Unlock()
		if !need {
			g.releaseSlot()
			return err
		}
		in, err := p.startSlot(ctx)
		in, err = p.startDone(in, err, probe)
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
	return 0, &GuestError{Kind: ErrAppFailed, Code: code, Export: abi.FuncCheckPassword}
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
		return nil, &GuestError{Kind: ErrAppFailed, Code: code, Export: abi.FuncGroupsForUser}
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
	in.state.stderr.resetTail() // an error carries this call's output only
	timeout := p.g.cfg.RequestTimeout
	in.deadline.Store(time.Now().Add(timeout).UnixNano())
	res, err := p.run(ctx, in, ph, c, timeout)
	c.phase = phaseNone
	in.requests++
	p.release(in, err == nil)
	p.g.c.served.Add(1)
	if err != nil {
		gerr := p.g.guestError(err, in.state.stderr.String(), false)
		gerr.Export = exports[ph]
		return 0, gerr
	}
	code := api.DecodeI32(res)
	if code != 0 && ph == phaseHandle {
		// Keep what the guest said about it (Go's panic trace).
		return code, &GuestError{Kind: ErrAppFailed, Code: code, Stderr: in.state.stderr.String(), Export: exports[ph]}
	}
	return code, nil
}

// acquire takes a slot in the group, waiting up to QueueTimeout, then an
// idle instance of this app or a new one; while the app fails to start
// (start.go), a call that needs a new one gets a StartError at once.
func (p *Pool) acquire(ctx context.Context) (*instance, error) {
	g := p.g
	queued := time.Now()
	if err := p.start.refusing(queued); err != nil && !p.hasIdle() {
		return nil, err // refused at once, without queueing for a slot
	}
	if err := g.acquireSlot(ctx); err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.closed || p.unloaded {
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
	g.mu.Unlock()
	// A new instance: replacing one lost to a failure waits its turn.
	if err := g.respawn.wait(ctx, queued.Add(g.cfg.QueueTimeout)); err != nil {
		if err == ErrQueueTimeout {
			g.c.refused.Add(1)
		}
		g.releaseSlot()
		return nil, err
	}
	g.mu.Lock()
	if g.closed || p.unloaded {
		g.mu.Unlock()
		g.releaseSlot()
		return nil, ErrClosed
	}
	if n := len(p.idle); n > 0 { // one came back meanwhile
		in := p.idle[n-1]
		p.idle = p.idle[:n-1]
		g.mu.Unlock()
		return in, nil
	}
	probe, err := p.start.begin(time.Now())
	if err != nil { // failing to start, and not yet time to try again
		g.mu.Unlock()
		g.releaseSlot()
		return nil, err
	}
	evict := g.reserve()
	p.alive++
	g.mu.Unlock()
	if evict != nil {
		evict.close(ctx)
	}
	in, err := p.startSlot(ctx)
	if in, err = p.startDone(in, err, probe); err != nil {
		g.mu.Lock()
		g.alive--
		p.alive--
		g.mu.Unlock()
		g.releaseSlot()
		return nil, err
	}
	return in, nil
}

// startSlot creates an instance for a slot the caller holds, counted in
// Stats.Starting meanwhile (a Python app's start takes seconds: an
// operator wants to tell it from a busy instance).
func (p *Pool) startSlot(ctx context.Context) (*instance, error) {
	p.g.starting.Add(1)
	defer p.g.starting.Add(-1)
	return p.newInstance(ctx)
}

// hasIdle reports whether the app has an idle instance.
func (p *Pool) hasIdle() bool {
	p.g.mu.Lock()
	defer p.g.mu.Unlock()
	return len(p.idle) > 0
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
		if !ok {
			g.respawn.failed(g.cfg.Instances)
		}
	}
	refill := !keep && !g.closed && !g.retired && p.alive < g.cfg.MinInstances
	g.mu.Unlock()
	g.releaseSlot()
	if !keep {
		if ok && recycle {
			g.c.recycled.Add(1)
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

// run calls export ph of in for c, bounded by timeout: an instrumented
// module is stopped by its interrupt global, one compiled with
// close-on-context-done by wazero, through a context of the request's
// (its values, not its cancellation: a client that goes away does not
// stop the call) with the deadline.
func (p *Pool) run(ctx context.Context, in *instance, ph phase, c *Call, timeout time.Duration) (res uint64, err error) {
	in.state.call = c
	var stack [1]uint64 // every export of a phase is () -> i32
	call := func() error {
		var err error
		in.nicer.run(func() { in.mem.inUse(func() { err = in.fns[ph].CallWithStack(ctx, stack[:]) }) })
		return err
	}
	if in.guard != nil {
		ctx = in.callCtx
		err = armedFor(timeout, in.guard, call)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(withState(context.WithoutCancel(ctx), in.state), timeout)
		err = call()
		cancel()
	}
	in.state.call = nil
	if err == nil && in.guard != nil && in.guard.used() > keptStack {
		// wazero keeps the stack a call grew with the function it called:
		// take a new one, so that the grown stack goes with the garbage.
		in.fns[ph] = in.mod.ExportedFunction(exports[ph])
	}
	return stack[0], err
}

// Probe starts one instance of the app, outside the group's capacity,
// and closes it: what the app's start does (a Python app imports its
// application) fails here as its first request would. It returns what the
// instance wrote to stderr either way (the tail), for problems an app
// reports without failing to start. For `wasgi check`.
func (p *Pool) Probe(ctx context.Context) (stderr string, err error) {
	in, err := p.newInstance(ctx)
	if err != nil {
		return "", err
	}
	defer in.close(ctx)
	return in.state.stderr.String(), nil
}

// keptStack is the stack an instance may keep between calls: past it,
// the function whose stack grew is replaced.
const keptStack = 1 << 20
