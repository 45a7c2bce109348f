package sandbox

import (
	"context"
	"sync"
	"time"
)

// Replacing failed instances, at a bounded rate. A trap or a timeout
// discards its instance; the next request of the group starts a new one,
// which for a Go guest is about 10 ms of CPU in wazero (no guest code,
// nothing the kernel can tell from other sites' work). A site that traps
// on purpose, or spins to its timeout, could make every request cost
// that. So a group replaces instances lost to failures at most
// respawnRate per instance of capacity per second (at least
// respawnMinRate), with a burst of twice its capacity; a request that
// would start one sooner waits for its turn within queue_timeout, then
// gets 503. Instances closed for other reasons (max_requests, idle,
// reload) are replaced without a limit. Process supervisors do the same
// (systemd's StartLimitBurst).
const (
	respawnRate    = 2.0 // per instance of capacity, per second
	respawnMinRate = 4.0 // per second
)

// respawnLimit is a group's budget for replacing failed instances.
type respawnLimit struct {
	mu     sync.Mutex
	owed   int // instances lost to failures, not yet replaced
	tokens float64
	last   time.Time
	rate   float64
	burst  float64
}

func newRespawnLimit(instances int) *respawnLimit {
	rate := max(respawnRate*float64(instances), respawnMinRate)
	burst := 2 * float64(max(instances, 2))
	return &respawnLimit{rate: rate, burst: burst, tokens: burst}
}

// failed records an instance discarded after a failure.
func (l *respawnLimit) failed(capacity int) {
	l.mu.Lock()
	l.owed = min(l.owed+1, capacity)
	l.mu.Unlock()
}

// wait is called before starting an instance: when one lost to a
// failure is owed, it takes a token, waiting for one at most until
// deadline; ErrQueueTimeout past it.
func (l *respawnLimit) wait(ctx context.Context, deadline time.Time) error {
	l.mu.Lock()
	if l.owed == 0 {
		l.mu.Unlock()
		return nil
	}
	now := time.Now()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	l.owed--
	l.tokens--
	wait := time.Duration(0)
	if l.tokens < 0 {
		wait = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	if wait > 0 && now.Add(wait).After(deadline) {
		// Not this one: give the token and the debt back.
		l.tokens++
		l.owed++
		l.mu.Unlock()
		return ErrQueueTimeout
	}
	l.mu.Unlock()
	if wait == 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
