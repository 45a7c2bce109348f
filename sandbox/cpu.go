package sandbox

import (
	"container/heap"
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasgi/wasgi/internal/wasmrw"
)

// The CPU scheduler. wazero's machine code cannot be preempted, so
// without one the kernel shares the cores among every thread running
// guest code: a site flooding the host with spinning requests has as
// many threads as requests, and a quiet site's request waits behind
// them. So guest code runs only with a CPU token, one per core:
//
//   - a call takes a token before it enters guest code (a request, an
//     instance's start, a CGI run) and gives it back when it leaves;
//   - waiting calls are served by the recent CPU use of their daemon
//     group, the least first (decayed with a half-life of a second), then
//     in arrival order;
//   - at its yields (every wasmrw.YieldEvery loop iterations and calls,
//     a few to 60 µs of guest code) a call gives its token to a waiting
//     call of a group that used less CPU than its own at once, and to any
//     waiting call once it has run for a quantum; then it queues again;
//   - a call running longer than cpuLongCall is long: long calls hold at
//     most all tokens but one (on more than one core), and give way to
//     any short call at their next yield, so that one core always runs
//     short requests and the host's own code;
//   - around host calls that can block (the request body, the client,
//     outbound connections, file locks, sleeps) a call holds no token.
//
// The scheduling point is a function listener on $yield, which wazero
// calls in Go before each yield (wazero compiles no call into the other
// functions). A module the rewriter cannot instrument has no yields: its
// calls take a token at entry and keep it until they leave.

// cpuQuantum is how long a call runs guest code before it lets a waiting
// call of a group as busy as its own have its token: calls of equally
// busy groups take turns about this often (a switch costs a few
// microseconds).
const cpuQuantum = 500 * time.Microsecond

// cpuLongCall is when a call becomes long (the same time as nice_linux.go's
// renicing).
const cpuLongCall = 10 * time.Millisecond

// cpuHalfLife is how fast a group's recent CPU use is forgotten.
const cpuHalfLife = time.Second

// cpuCores is the number of CPU tokens: the GOMAXPROCS the process started
// with (cores, or the container's quota), before SetGOMAXPROCS raises it.
var cpuCores = runtime.GOMAXPROCS(0)

// cpuSched hands out the CPU tokens.
type cpuSched struct {
	mu      sync.Mutex
	free    int          // tokens no call holds
	longCap int          // the most tokens long calls may hold
	long    int          // tokens long calls hold
	short   cpuQueue     // calls waiting for a token
	longQ   cpuQueue     // long calls waiting for a token
	nwait   atomic.Int32 // len(short) + len(longQ), read at yields without the lock
	nshort  atomic.Int32 // len(short)
	seq     uint64
}

func newCPUSched(tokens int) *cpuSched {
	tokens = max(tokens, 1)
	return &cpuSched{free: tokens, longCap: max(tokens-1, 1)}
}

// cpuShare is a daemon group's recent CPU use, in decayed nanoseconds.
type cpuShare struct {
	used float64
	at   int64 // nanotime of the last update
}

// usage decays the share to now; the scheduler's lock is held.
func (c *cpuShare) usage(now int64) float64 {
	if c.at != 0 && now > c.at {
		c.used *= math.Exp2(-float64(now-c.at) / float64(cpuHalfLife))
	}
	c.at = now
	return c.used
}

// key orders shares by their usage as of any one moment: decay scales
// every share alike, so log2(used) + at/halfLife compares them without
// decaying each to a common time. A share that used nothing comes first.
func (c *cpuShare) key() float64 {
	if c.used <= 0 {
		return math.Inf(-1)
	}
	return math.Log2(c.used) + float64(c.at)/float64(cpuHalfLife)
}

// cpuSlot is one call's hold on the CPU; an instance has one, used by
// the call running on it, on the call's goroutine only.
type cpuSlot struct {
	sched     *cpuSched
	share     *cpuShare
	count     *Counters // the group's: CPU time held and waited
	holding   bool
	long      bool  // the call has run past longCall (counted in sched.long while holding)
	since     int64 // nanotime the token was taken
	callStart int64 // nanotime the call entered guest code
}

// cpuWaiter is a call waiting for a token.
type cpuWaiter struct {
	prio  float64 // its group's cpuShare.key when it queued
	seq   uint64
	long  bool
	ready chan struct{}
	index int // in its heap; -1 once granted or gone
}

type cpuQueue []*cpuWaiter

func (q cpuQueue) Len() int { return len(q) }
func (q cpuQueue) Less(i, j int) bool {
	if q[i].prio != q[j].prio {
		return q[i].prio < q[j].prio
	}
	return q[i].seq < q[j].seq
}
func (q cpuQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i]; q[i].index, q[j].index = i, j }
func (q *cpuQueue) Push(x any)   { w := x.(*cpuWaiter); w.index = len(*q); *q = append(*q, w) }
func (q *cpuQueue) Pop() any {
	old := *q
	w := old[len(old)-1]
	*q = old[:len(old)-1]
	w.index = -1
	return w
}

// nanotime is a monotonic clock in ns.
func nanotime() int64 { return int64(time.Since(clockBase)) }

var clockBase = time.Now()

// counts refreshes the lock-free queue lengths; s.mu is held.
func (s *cpuSched) counts() {
	s.nwait.Store(int32(len(s.short) + len(s.longQ)))
	s.nshort.Store(int32(len(s.short)))
}

// grant hands free tokens to waiters: short calls first, long calls
// within longCap; s.mu is held.
func (s *cpuSched) grant() {
	for s.free > 0 {
		var w *cpuWaiter
		switch {
		case len(s.short) > 0:
			w = heap.Pop(&s.short).(*cpuWaiter)
		case len(s.longQ) > 0 && s.long < s.longCap:
			w = heap.Pop(&s.longQ).(*cpuWaiter)
			s.long++
		default:
			s.counts()
			return
		}
		s.free--
		close(w.ready)
	}
	s.counts()
}

// acquire takes a token for the slot, waiting in its group's turn; it
// gives up when ctx ends (the call is then past its deadline and traps
// at its next yield, holding nothing).
func (c *cpuSlot) acquire(ctx context.Context) {
	if c == nil || c.holding {
		return
	}
	s := c.sched
	s.mu.Lock()
	if s.free > 0 && len(s.short) == 0 && (!c.long || len(s.longQ) == 0 && s.long < s.longCap) {
		s.free--
		if c.long {
			s.long++
		}
		s.mu.Unlock()
		c.holding, c.since = true, nanotime()
		return
	}
	s.seq++
	w := &cpuWaiter{prio: c.share.key(), seq: s.seq, long: c.long, ready: make(chan struct{})}
	q := &s.short
	if c.long {
		q = &s.longQ
	}
	heap.Push(q, w)
	s.counts()
	s.mu.Unlock()
	start := nanotime()
	select {
	case <-w.ready:
		c.holding, c.since = true, nanotime()
		if c.count != nil {
			c.count.cpuWaitNS.Add(c.since - start)
		}
	case <-ctx.Done():
		s.mu.Lock()
		if w.index >= 0 { // still queued: leave
			heap.Remove(q, w.index)
			s.counts()
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		// Granted as ctx ended: the token is ours to give back.
		c.holding, c.since = true, nanotime()
		c.release()
	}
}

// release gives the token back, to the next waiter if any, charging the
// time held to the group.
func (c *cpuSlot) release() {
	if c == nil || !c.holding {
		return
	}
	c.holding = false
	now := nanotime()
	if c.count != nil {
		c.count.cpuNS.Add(now - c.since)
	}
	s := c.sched
	s.mu.Lock()
	c.share.used = c.share.usage(now) + float64(now-c.since)
	s.free++
	if c.long {
		s.long--
	}
	s.grant()
	s.mu.Unlock()
}

// yield is the scheduling point at a guest's yields (see above).
func (c *cpuSlot) yield(ctx context.Context) {
	// Not holding: guest code outside onCPU (a snapshot's getters), or a
	// call that stopped waiting at its deadline and is about to trap.
	if c == nil || !c.holding {
		return
	}
	now := nanotime()
	if !c.long && now-c.callStart > int64(cpuLongCall) {
		// Long from now on: queue as one (within longCap).
		c.release()
		c.long = true
		c.acquire(ctx)
		return
	}
	if c.sched.nwait.Load() == 0 {
		return
	}
	s := c.sched
	s.mu.Lock()
	give := false
	switch {
	case c.long:
		// A long call gives way to any short call, and takes turns
		// with the other long ones.
		give = len(s.short) > 0 || len(s.longQ) > 0 && now-c.since >= int64(cpuQuantum)
	case len(s.short) > 0:
		mine := c.share.key()
		give = s.short[0].prio < mine || now-c.since >= int64(cpuQuantum)
	}
	s.mu.Unlock()
	if give {
		c.release()
		c.acquire(ctx)
	}
}

// charge adds d of CPU spent for the slot's group outside guest code (a
// start's host part) to the group's share; the time with a token is
// charged by release, so it counts twice, which only errs towards the
// group that starts instances.
func (c *cpuSlot) charge(d time.Duration) {
	if c == nil || d <= 0 {
		return
	}
	s := c.sched
	s.mu.Lock()
	c.share.used = c.share.usage(nanotime()) + float64(d)
	s.mu.Unlock()
}

// onCPU runs fn, guest code of the instance whose slot is c, holding a
// token.
func (c *cpuSlot) onCPU(ctx context.Context, fn func()) {
	if c == nil {
		fn()
		return
	}
	c.long, c.callStart = false, nanotime()
	c.acquire(ctx)
	defer c.release()
	fn()
}

// offCPU wraps a host function that can block so that its guest holds no
// token while it runs.
func offCPU(fn api.GoModuleFunc) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		s := stateFrom(ctx)
		if s == nil || s.cpu == nil || !s.cpu.holding {
			fn(ctx, m, stack)
			return
		}
		s.cpu.release()
		defer s.cpu.acquire(ctx)
		fn(ctx, m, stack)
	}
}

// yieldListeners makes $yield (the export wasmrw.YieldExport) call the
// scheduler; no other function gets a listener.
type yieldListeners struct{}

func (yieldListeners) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	for _, n := range def.ExportNames() {
		if n == wasmrw.YieldExport {
			return yieldListener{}
		}
	}
	return nil
}

type yieldListener struct{}

func (yieldListener) Before(ctx context.Context, _ api.Module, _ api.FunctionDefinition, _ []uint64, _ experimental.StackIterator) {
	if s := stateFrom(ctx); s != nil {
		s.cpu.yield(ctx)
	}
}

func (yieldListener) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}

func (yieldListener) Abort(context.Context, api.Module, api.FunctionDefinition, error) {}
