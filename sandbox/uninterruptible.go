package sandbox

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// Calls of uninterruptible modules (groups with hard_timeout = false).
//
// Without close-on-context-done wazero cannot stop guest code, so a call
// that outlives its request_timeout is abandoned instead: the guest runs
// in a goroutine of its own, the request gets ErrTimeout (504) at the
// deadline without waiting for it, and the instance is closed when the
// guest returns. Until then the instance keeps its slot of the group's
// capacity, so `instances` still bounds the guest calls running at once: a
// guest that never returns costs its own group one instance, and nothing
// else. The guest can no longer reach the request it was abandoned by:
// every wasgi import it calls traps it, and so does a sleep past the
// deadline (a sleeping Go guest otherwise wakes and sleeps again forever).

// guard is shared by an uninterruptible call and its wasgi imports.
type guard struct {
	mu        sync.Mutex
	abandoned bool // the host answered without the guest; no import may touch the Call
	returned  bool // the guest's call is over
}

// errAbandoned is run's result for a call left running past its deadline.
var errAbandoned = errors.New("sandbox: call abandoned at request_timeout")

// errPastDeadline is what stops an abandoned guest at its next import or
// sleep: the exit error close-on-context-done would have raised, so a
// guest that hits it before the host noticed the deadline still counts as
// timed out, not trapped.
var errPastDeadline = sys.NewExitError(sys.ExitCodeDeadlineExceeded)

// guarded wraps a wasgi import for the runtime of uninterruptible modules:
// it runs under the call's guard, so the host never abandons a call in the
// middle of an import (one blocked on the client is bounded by the
// connection's deadlines), and traps a guest whose call was abandoned.
func guarded(f api.GoModuleFunc) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		c := callFrom(ctx)
		if c == nil || c.guard == nil { // _initialize, or a call that cannot be abandoned
			f(ctx, m, stack)
			return
		}
		g := c.guard
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.abandoned {
			panic(errPastDeadline)
		}
		f(ctx, m, stack)
	}
}

// run calls export ph of in for c, bounded by ctx's deadline. An
// instrumented module is stopped at the deadline by its interrupt global,
// and one compiled with close-on-context-done by wazero. An uninterruptible
// one runs in its own goroutine; if it is still running at the deadline,
// run returns errAbandoned and the instance belongs to that goroutine,
// which releases it when the guest returns.
func (p *Pool) run(ctx context.Context, in *instance, ph phase, c *Call) (res []uint64, err error) {
	ctx = context.WithValue(ctx, callKey{}, c)
	switch p.m.stop {
	case byInterrupt:
		if interrupted(ctx, in.interrupt, func() {
			deprioritizeIfLong(func() { res, err = in.fns[ph].Call(ctx) })
		}) && err != nil {
			err = errPastDeadline
		}
		return res, err
	case byClose:
		deprioritizeIfLong(func() { res, err = in.fns[ph].Call(ctx) })
		return res, err
	}
	type result struct {
		res []uint64
		err error
	}
	g := &guard{}
	c.guard = g
	done := make(chan result, 1)
	go func() {
		var r result
		deprioritizeIfLong(func() { r.res, r.err = in.fns[ph].Call(ctx) })
		g.mu.Lock()
		g.returned = true
		abandoned := g.abandoned
		g.mu.Unlock()
		if !abandoned {
			done <- r
			return
		}
		p.release(in, false)
		p.g.rt.Release(context.Background(), p.m)
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
	}
	g.mu.Lock() // waits for an import in progress
	defer g.mu.Unlock()
	if g.returned {
		r := <-done
		return r.res, r.err
	}
	g.abandoned = true
	// The guest's machine code must outlive a reload that releases the
	// module meanwhile.
	p.g.rt.retain(p.m)
	return nil, errAbandoned
}

// nanosleep is the guest's sleep (see boundedSleep); an uninterruptible
// guest that sleeps past its call's deadline is stopped there.
func (m *Module) nanosleep(deadline *atomic.Int64) sys.Nanosleep {
	sleep := boundedSleep(deadline)
	if m.Interruptible {
		return sleep
	}
	return func(ns int64) {
		if time.Now().UnixNano() >= deadline.Load() {
			panic(errPastDeadline)
		}
		sleep(ns)
	}
}
