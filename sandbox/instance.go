package sandbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/internal/wasmrw"
)

// instance is one live instantiation of an app's module.
type instance struct {
	deadline *atomic.Int64 // of the running call, for sleeps; see boundedSleep
	mod      api.Module
	mem      *memoryAllocator           // its linear memory; nil without a memory_limit
	guard    *guard                     // of an instrumented module (interrupt.go)
	nicer    *nicer                     // renices its long calls; nil: none
	fns      [len(exports)]api.Function // by phase
	state    *instanceState
	// callCtx is the context of an instrumented instance's calls: its
	// state and nothing else (the call's deadline is the guard's timer and
	// state.deadline), made once rather than per call.
	callCtx  context.Context
	requests int
	lastUsed time.Time
}

func (p *Pool) newInstance(ctx context.Context) (in *instance, err error) {
	stderr := newTailWriter(p.cfg.Logger, zerolog.WarnLevel, "stderr")
	stdout := newTailWriter(p.cfg.Logger, zerolog.InfoLevel, "stdout")
	deadline := new(atomic.Int64)
	deadline.Store(time.Now().Add(p.g.cfg.RequestTimeout).UnixNano()) // for _initialize
	files := &fileCount{all: &p.g.rt.files}
	mc := p.modCfg.WithStdout(stdout).WithStderr(stderr).WithNanosleep(boundedSleep(deadline)).WithFSConfig(p.dirs.config(files))
	state := &instanceState{log: &p.cfg.Logger, stderr: stderr, deadline: deadline, net: p.net, roots: p.locks, files: files}
	ctx = withState(context.WithoutCancel(ctx), state)
	snap := p.snap.Load()
	var mem *memoryAllocator
	if p.cfg.MemoryLimit > 0 {
		mem = newMemoryAllocator(p.cfg.MemoryLimit, p.g.rt.spares)
		if snap != nil {
			mem.src = snap.shared // its memory maps the snapshot's
		}
		ctx = experimental.WithMemoryAllocator(ctx, mem)
	}
	// _initialize runs guest code (Go's package init): bound it like a request.
	ctx, cancel := context.WithTimeout(ctx, p.g.cfg.RequestTimeout)
	defer cancel()
	start := time.Now()
	init := ""
	if snap == nil && p.m.initialize {
		init = abi.FuncInitialize // a snapshot replaces _initialize
	}
	var mod api.Module
	var g *guard
	deprioritized(p.g.rt.renice, func() {
		mem.inUse(func() {
			if mod, g, err = p.m.instantiate(ctx, mc, init, p.cfg.StackLimit); err != nil || snap == nil {
				return
			}
			state.reserveHandles(snap.handles)
			if err = armed(ctx, g, func() error { return snap.restore(ctx, mod, mem) }); err != nil {
				mod.Close(ctx)
				mod = nil
			}
		})
	})
	if err == nil && snap == nil && p.cfg.Snapshot {
		if s, serr := takeSnapshot(mod, &p.g.rt.spares.snapshots); serr == nil {
			s.handles = state.handleBase()
			if n := state.count(resourceConn); n > 0 {
				p.cfg.HostLogger.Warn().Int("connections", n).
					Msg("the app opened connections while starting: the other instances start from a copy without them (their handles answer ErrBadHandle); open connections per request or lazily")
			}
			if p.snap.CompareAndSwap(nil, s) {
				p.cfg.HostLogger.Info().Uint64("memory", s.size()).Bool("shared", s.shared != nil).Dur("start", time.Since(start)).
					Msg("first instance started; the next ones start from its snapshot")
			} else {
				s.close()
			}
		} else {
			p.cfg.HostLogger.Warn().Err(serr).Msg("instances of this app cannot start from a snapshot")
		}
	}
	if err != nil {
		state.close()
		return nil, &GuestError{Kind: ErrInstantiate, Err: fmt.Errorf("instantiate %s: %w", p.m.Path, err), Stderr: stderr.String()}
	}
	p.g.c.created.Add(1)
	if p.snap.Load() == nil {
		// The app's next instances map its snapshot and take no spare.
		mem.refill()
	}
	in = &instance{mod: mod, mem: mem, state: state, deadline: deadline, guard: g,
		nicer: newNicer(p.g.rt.renice), callCtx: withState(context.Background(), state)}
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

// close closes the instance and every resource its guest still holds.
func (in *instance) close(ctx context.Context) {
	in.mod.Close(ctx)
	in.state.close()
	in.nicer.stop()
	if in.guard != nil {
		in.guard.timer.stop()
	}
}

// instantiate creates an instance of m from mc, then runs its start
// export start ("" for none: _initialize, _start) to completion or to the
// deadline of ctx. An instrumented module runs it armed, its calls on a
// stack of stackLimit bytes (0: DefaultStackLimit); one compiled with
// close-on-context-done runs it inside InstantiateModule, where wazero
// stops it. A start that calls proc_exit(0) has succeeded. On error
// nothing is left open.
func (m *Module) instantiate(ctx context.Context, mc wazero.ModuleConfig, start string, stackLimit uint64) (mod api.Module, g *guard, err error) {
	defer func() {
		if r := recover(); r != nil { // an allocator refusing the initial memory
			err = fmt.Errorf("instantiate %s: %v", m.Path, r)
		}
		if err != nil && mod != nil {
			mod.Close(ctx)
			mod, g = nil, nil
		}
	}()
	if m.stop == byClose {
		if start != "" {
			mc = mc.WithStartFunctions(start)
		} else {
			mc = mc.WithStartFunctions()
		}
		mod, err = m.rt.InstantiateModule(ctx, m.compiled, mc)
		return mod, nil, exitOK(err)
	}
	if mod, err = m.rt.InstantiateModule(ctx, m.compiled, mc.WithStartFunctions()); err != nil {
		return nil, nil, err
	}
	if g, err = newGuard(mod, stackLimit); err != nil {
		return mod, nil, err
	}
	if start != "" {
		err = armed(ctx, g, func() error {
			_, err := mod.ExportedFunction(start).Call(ctx)
			return exitOK(err)
		})
		if err != nil {
			err = fmt.Errorf("%s: %w", start, err)
		}
	}
	return mod, g, err
}

// exitOK is err, except that proc_exit(0) is no error.
func exitOK(err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		return nil
	}
	return err
}

// guard is how the host steers an instrumented instance's guest: its
// interrupt global (interrupt.go) and its stack budget
// (internal/wasmrw/stack.go). A module wazero stops itself has none (nil).
type guard struct {
	interrupt, stack, low api.MutableGlobal
	limit                 uint64     // the stack budget of each call, in bytes
	timer                 *callTimer // stops its calls at their deadlines
}

// DefaultStackLimit is the stack budget of a call when the app sets none:
// what its functions' frames may add up to, as the rewrite estimates them.
const DefaultStackLimit = wasmrw.DefaultStack

// newGuard finds the globals of an instrumented instance.
func newGuard(mod api.Module, stackLimit uint64) (*guard, error) {
	g := &guard{limit: cmp.Or(min(stackLimit, 1<<31-1), DefaultStackLimit)}
	var ok [3]bool
	g.interrupt, ok[0] = mod.ExportedGlobal(wasmrw.InterruptExport).(api.MutableGlobal)
	g.stack, ok[1] = mod.ExportedGlobal(wasmrw.StackExport).(api.MutableGlobal)
	g.low, ok[2] = mod.ExportedGlobal(wasmrw.StackLowExport).(api.MutableGlobal)
	if ok != [3]bool{true, true, true} {
		return nil, errors.New("no interrupt or stack globals")
	}
	g.timer = newCallTimer(g.interrupt)
	return g, nil
}

// used is about how much of its stack budget the last call used: the
// lowest budget its guest's yields saw.
func (g *guard) used() uint64 {
	return g.limit - uint64(max(int32(g.low.Get()), 0))
}

// errStackExhausted is a call's error when its guest trapped at its stack
// budget: a recursion too deep (500, like any trap).
var errStackExhausted = errors.New("sandbox: the guest went past its call stack budget (too deep a recursion)")

// armed runs f, a call into the guest of an instance steered by g (nil
// for a module wazero stops itself), with its stack budget whole and
// making the guest trap at its next yield once ctx is done; a call stopped
// that way fails with errPastDeadline, a timeout rather than a trap, and
// one that went past its stack budget with errStackExhausted.
func armed(ctx context.Context, g *guard, f func() error) error {
	if g == nil {
		return f()
	}
	return g.run(f, func(call func()) bool { return interrupted(ctx, g.interrupt, call) })
}

// armedFor is armed for a call of an instrumented instance (g not nil)
// that must stop within d: what a request's call uses, with the
// instance's timer instead of a context.
func armedFor(d time.Duration, g *guard, f func() error) error {
	return g.run(f, func(call func()) bool { return g.timer.run(d, call) })
}

// run runs f with the stack budget whole, interrupted by interrupt.
func (g *guard) run(f func() error, interrupt func(call func()) bool) error {
	g.stack.Set(g.limit)
	g.low.Set(g.limit)
	var err error
	if interrupt(func() { err = f() }) && err != nil {
		return errPastDeadline
	}
	if err != nil && int32(g.stack.Get()) < 0 {
		return fmt.Errorf("%w: %w", errStackExhausted, err)
	}
	return err
}
