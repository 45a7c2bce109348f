package sandbox

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/sys"
)

// GroupConfig are the limits of a daemon group (like WSGIDaemonProcess).
type GroupConfig struct {
	Name           string
	Instances      int           // most instances alive at once = most concurrent requests
	MinInstances   int           // instances per app kept warm
	MaxRequests    int           // recycle an instance after this many requests; 0 = never
	RequestTimeout time.Duration // a request running longer is stopped
	QueueTimeout   time.Duration // longest wait for a free instance
	IdleTimeout    time.Duration // instances idle this long are closed, down to MinInstances
	Counters       *Counters     // shared with the group this one replaces; nil: new ones
}

// Counters are a group's counters. They outlive the group when handed to
// its successor: a host that replaces a group on reload passes the old
// group's Counters in the new one's GroupConfig, so that its metrics
// count on instead of starting again from zero.
type Counters struct {
	served, created, recycled  atomic.Int64
	trapped, timedOut, refused atomic.Int64
}

// Stats are a group's counters and gauges.
type Stats struct {
	InUse, Idle, Queued        int64 // gauges
	Starting                   int64 // gauge: of InUse, the instances being created (instantiation, _initialize)
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

	inUse, queued atomic.Int64
	starting      atomic.Int64 // instances being created for a slot (counted in inUse too)
	c             *Counters
	respawn       *respawnLimit // replacing instances lost to failures (respawn.go)
}

// NewGroup creates a daemon group. Close it when done.
func (r *Runtime) NewGroup(cfg GroupConfig) *Group {
	if cfg.Instances < 1 {
		cfg.Instances = 1
	}
	if cfg.Counters == nil {
		cfg.Counters = new(Counters)
	}
	g := &Group{rt: r, cfg: cfg, c: cfg.Counters, slots: make(chan struct{}, cfg.Instances), stop: make(chan struct{}),
		respawn: newRespawnLimit(cfg.Instances)}
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
		InUse: g.inUse.Load(), Idle: int64(max(idle, 0)), Queued: g.queued.Load(), Starting: g.starting.Load(),
		Served: g.c.served.Load(), Created: g.c.created.Load(), Recycled: g.c.recycled.Load(),
		Trapped: g.c.trapped.Load(), TimedOut: g.c.timedOut.Load(), Refused: g.c.refused.Load(),
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
	var snaps []*snapshot
	for _, p := range g.pools {
		snaps = append(snaps, p.snap.Swap(nil))
	}
	g.mu.Unlock()
	for _, in := range idle {
		in.close(ctx)
	}
	// Only the config's close (no request left on it) or shutdown closes a
	// group, so no instance still uses these, nor starts from a snapshot
	// (one would fail to start, the group being closed anyway). Instances
	// still mapping a snapshot keep its pages.
	closeRoots(roots)
	for _, s := range snaps {
		s.close()
	}
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
			g.c.refused.Add(1)
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

// reserve counts one more instance alive in the group. Capacity is
// shared: when the group is full of other apps' idle instances, the
// oldest of them is taken out to make room, for the caller to close
// outside the lock. g.mu must be held.
func (g *Group) reserve() (evict *instance) {
	if g.alive >= g.cfg.Instances {
		if evict = g.takeOldestIdle(); evict != nil {
			g.alive--
		}
	}
	g.alive++
	return evict
}

// guestError classifies a failed guest call and counts it: past its
// deadline (ErrTimeout), or a trap (ErrTrap). With exitFails, a WASI
// command's non-zero exit is the app failing (ErrAppFailed with its
// code), not a trap.
func (g *Group) guestError(err error, stderr string, exitFails bool) *GuestError {
	gerr := &GuestError{Kind: ErrTrap, Err: err, Stderr: stderr}
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded:
		gerr.Kind = ErrTimeout
		g.c.timedOut.Add(1)
	case exitFails && errors.As(err, &exit):
		gerr.Kind, gerr.Code = ErrAppFailed, int32(exit.ExitCode())
	default:
		g.c.trapped.Add(1)
	}
	return gerr
}
