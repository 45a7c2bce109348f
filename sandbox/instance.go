package sandbox

import (
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
	deadline  *atomic.Int64 // of the running call, for sleeps; see boundedSleep
	mod       api.Module
	mem       *memoryAllocator           // its linear memory; nil without a memory_limit
	interrupt api.MutableGlobal          // of an instrumented module (interrupt.go)
	fns       [len(exports)]api.Function // by phase
	state     *instanceState
	requests  int
	lastUsed  time.Time
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
	var mem *memoryAllocator
	if p.cfg.MemoryLimit > 0 {
		mem = newMemoryAllocator(p.cfg.MemoryLimit, p.g.rt.spares)
		ctx = experimental.WithMemoryAllocator(ctx, mem)
	}
	// _initialize runs guest code (Go's package init): bound it like a request.
	ctx, cancel := context.WithTimeout(ctx, p.g.cfg.RequestTimeout)
	defer cancel()
	start := time.Now()
	snap := p.snap.Load()
	init := ""
	if snap == nil && p.m.initialize {
		init = abi.FuncInitialize // a snapshot replaces _initialize
	}
	var mod api.Module
	var interrupt api.MutableGlobal
	deprioritized(p.g.rt.renice, func() {
		mem.inUse(func() {
			if mod, interrupt, err = p.m.instantiate(ctx, mc, init); err != nil || snap == nil {
				return
			}
			state.reserveHandles(snap.handles)
			if err = armed(ctx, interrupt, func() error { return snap.restore(ctx, mod) }); err != nil {
				mod.Close(ctx)
				mod = nil
			}
		})
	})
	if err == nil && snap == nil && p.cfg.Snapshot {
		if s, serr := takeSnapshot(mod); serr == nil {
			s.handles = state.handleBase()
			if n := state.count(resourceConn); n > 0 {
				p.cfg.HostLogger.Warn().Int("connections", n).
					Msg("the app opened connections while starting: the other instances start from a copy without them (their handles answer ErrBadHandle); open connections per request or lazily")
			}
			if p.snap.CompareAndSwap(nil, s) {
				p.cfg.HostLogger.Info().Int("memory", len(s.mem)).Dur("start", time.Since(start)).
					Msg("first instance started; the next ones start from its snapshot")
			}
		} else {
			p.cfg.HostLogger.Warn().Err(serr).Msg("instances of this app cannot start from a snapshot")
		}
	}
	if err != nil {
		state.close()
		return nil, fmt.Errorf("instantiate %s: %w (stderr: %q)", p.m.Path, err, stderr.String())
	}
	p.g.c.created.Add(1)
	mem.refill()
	in = &instance{mod: mod, mem: mem, state: state, deadline: deadline, interrupt: interrupt}
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
}

// instantiate creates an instance of m from mc, then runs its start
// export start ("" for none: _initialize, _start) to completion or to the
// deadline of ctx. An instrumented module runs it with its interrupt
// global armed; one compiled with close-on-context-done runs it inside
// InstantiateModule, where wazero stops it. A start that calls
// proc_exit(0) has succeeded. On error nothing is left open.
func (m *Module) instantiate(ctx context.Context, mc wazero.ModuleConfig, start string) (mod api.Module, interrupt api.MutableGlobal, err error) {
	defer func() {
		if r := recover(); r != nil { // an allocator refusing the initial memory
			err = fmt.Errorf("instantiate %s: %v", m.Path, r)
		}
		if err != nil && mod != nil {
			mod.Close(ctx)
			mod, interrupt = nil, nil
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
	var ok bool
	if interrupt, ok = mod.ExportedGlobal(wasmrw.InterruptExport).(api.MutableGlobal); !ok {
		return mod, nil, errors.New("no interrupt global")
	}
	if start != "" {
		err = armed(ctx, interrupt, func() error {
			_, err := mod.ExportedFunction(start).Call(ctx)
			return exitOK(err)
		})
		if err != nil {
			err = fmt.Errorf("%s: %w", start, err)
		}
	}
	return mod, interrupt, err
}

// exitOK is err, except that proc_exit(0) is no error.
func exitOK(err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		return nil
	}
	return err
}

// armed runs f, a call into the guest of an instance whose interrupt
// global is interrupt (nil for a module wazero stops itself), making the
// guest trap at its next yield once ctx is done; a call stopped that way
// fails with errPastDeadline, a timeout rather than a trap.
func armed(ctx context.Context, interrupt api.MutableGlobal, f func() error) error {
	if interrupt == nil {
		return f()
	}
	var err error
	if interrupted(ctx, interrupt, func() { err = f() }) && err != nil {
		return errPastDeadline
	}
	return err
}
