package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
	"github.com/wasgi/wasgi/internal/wasmrw"
)

// Interrupting guest code at request_timeout.
//
// wazero's own way, close-on-context-done, compiles a call into Go at the
// head of every loop: guest code runs 3–9× slower (wazero issue #2466).
// Compile instead rewrites each module so that it stops itself. Three
// things are added: a mutable i32 global $budget, a mutable i32 global
// $interrupt exported as wasmrw.InterruptExport, and a function $yield. Every
// loop head and every function entry then starts with
//
//	global.get $budget
//	i32.const 1
//	i32.sub
//	global.set $budget
//	global.get $budget   ;; the value just set: no second load
//	i32.eqz
//	if
//	  call $yield
//	end
//
// a decrement and a well-predicted branch. Once every wasmrw.YieldEvery checks,
// $yield runs:
//
//	i32.const 0
//	memory.grow 0        ;; a round trip through Go: see below
//	drop
//	i32.const wasmrw.YieldEvery
//	global.set $budget
//	global.get $interrupt
//	if
//	  unreachable
//	end
//
// When a call's deadline passes, the host sets $interrupt and the guest
// traps at its next yield. Function entries are counted too, so a guest
// that recurses without loops (a naive fib) is stopped as well, which
// close-on-context-done does not do.
//
// The memory.grow of zero pages is what makes this safe for the host:
// wazero runs guest machine code where the Go scheduler cannot preempt it,
// so a garbage collection that stops the world waits for every running
// guest to come back to Go. A guest that never did (a loop without host
// calls) would freeze the whole host at its next GC, the goroutine that
// sets $interrupt included. wazero implements memory.grow in Go, so a
// guest now passes through Go every wasmrw.YieldEvery loop iterations or calls.
//
// A module without a memory gets an empty one for $yield to grow. Only
// what wazero's default features accept is parsed (WebAssembly 2.0); a
// module with anything else is compiled as it is, with
// close-on-context-done (and without the stack budget below).
//
// The same rewrite charges every function's frame against a stack budget
// the host sets before each call (internal/wasmrw/stack.go, guard in
// instance.go): a recursion past it traps, as a guest past memory_limit
// does, instead of growing wazero's native stack towards its 100 MiB.

// instrumented is the module wasm (of sha256 hash) as wasgi runs it, or
// nil when it cannot be instrumented. Every rewrite keeps what the module
// does: fewer data segments make instances cheaper (datasegments.go), the
// interrupt machinery makes them stoppable without close-on-context-done
// and lets a garbage collection through while they run, and exported
// globals make them snapshottable (snapshot.go).
//
// With a compilation cache the result is kept there too: rewriting a 5 MB
// Go module takes 40–200 ms, a large part of a warm start.
func (r *Runtime) instrumented(hash string, wasm []byte) []byte {
	file := r.instrumentedFile(hash)
	if file != "" {
		if b, err := os.ReadFile(file); err == nil {
			return b
		}
	}
	inst, err := wasmrw.Rewrite(wasm)
	if err != nil {
		return nil
	}
	if file != "" {
		// Written whole or not at all: a crash mid-write must not leave a
		// truncated module for the next start.
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err == nil {
			tmp, err := os.CreateTemp(filepath.Dir(file), hash+".*.tmp")
			if err == nil {
				_, werr := tmp.Write(inst)
				if cerr := tmp.Close(); werr == nil && cerr == nil {
					werr = os.Rename(tmp.Name(), file)
				}
				if werr != nil {
					os.Remove(tmp.Name())
				}
			}
		}
	}
	return inst
}

// forgetInstrumented removes a cached rewrite that did not compile.
func (r *Runtime) forgetInstrumented(hash string) {
	if file := r.instrumentedFile(hash); file != "" {
		os.Remove(file)
	}
}

func (r *Runtime) instrumentedFile(hash string) string {
	if r.cacheDir == "" {
		return ""
	}
	return filepath.Join(r.cacheDir, "wasgi-"+wasmrw.Version, hash+".wasm")
}

// alarm stops one call of an instrumented instance at its deadline.
type alarm struct {
	g     api.MutableGlobal
	mu    sync.Mutex
	done  bool // the call is over: firing now would hit the next one
	fired bool
}

func (a *alarm) fire() {
	a.mu.Lock()
	if !a.done {
		a.fired = true
		a.g.Set(1) // the guest reads it at its next yield
	}
	a.mu.Unlock()
}

// interrupted runs call, making the guest of the instance whose interrupt
// global is g trap at its next yield once ctx is done. It reports
// whether that happened; the global is clear again when it returns, so an
// instance that returned just in time may be kept.
func interrupted(ctx context.Context, g api.MutableGlobal, call func()) bool {
	a := &alarm{g: g}
	stop := context.AfterFunc(ctx, a.fire)
	call()
	stop()
	a.mu.Lock()
	a.done = true
	fired := a.fired
	a.mu.Unlock()
	if fired {
		g.Set(0)
	}
	return fired
}

// callTimer stops the calls of one instrumented instance at their
// deadlines, one call at a time, with one timer for all of them: a
// request resets a timer rather than making one, or a context with a
// deadline and a second one to wait for it.
type callTimer struct {
	g        api.MutableGlobal // the instance's interrupt global
	t        *time.Timer
	mu       sync.Mutex
	deadline time.Time // of the running call; zero between calls
	fired    bool
}

func newCallTimer(g api.MutableGlobal) *callTimer {
	c := &callTimer{g: g}
	c.t = time.AfterFunc(time.Hour, c.fire)
	c.t.Stop()
	return c
}

// fire sets the interrupt. The timer of an earlier call may fire late,
// during the next one: only a call past its own deadline is stopped.
func (c *callTimer) fire() {
	c.mu.Lock()
	if !c.deadline.IsZero() && !time.Now().Before(c.deadline) {
		c.fired = true
		c.g.Set(1) // the guest reads it at its next yield
	}
	c.mu.Unlock()
}

// run is interrupted for a call that must stop d from now.
func (c *callTimer) run(d time.Duration, call func()) bool {
	c.mu.Lock()
	c.deadline, c.fired = time.Now().Add(d), false
	c.mu.Unlock()
	c.t.Reset(d)
	call()
	c.t.Stop()
	c.mu.Lock()
	c.deadline = time.Time{}
	fired := c.fired
	c.mu.Unlock()
	if fired {
		c.g.Set(0)
	}
	return fired
}

// stop releases the timer, for an instance being closed.
func (c *callTimer) stop() { c.t.Stop() }

// errPastDeadline is a call's error when its guest was stopped at the
// deadline: the exit error close-on-context-done raises, so both ways of
// stopping a guest read as a timeout, not a trap.
var errPastDeadline = sys.NewExitError(sys.ExitCodeDeadlineExceeded)
