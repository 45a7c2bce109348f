package host

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// acceptWindow is how long after its last failed accept a listener counts
// as failing: net/http retries a failed accept after at most a second, so
// accepts that keep failing keep the failure fresh, and a listener whose
// last attempt failed but that has had no client since recovers by
// itself after this.
const acceptWindow = 3 * time.Second

// acceptHealth follows the public listeners' accepts. net/http retries an
// accept that failed with a temporary error (EMFILE, ENFILE) quietly,
// with a growing pause, so a host out of descriptors serves no one while
// every process-level check says it is fine. acceptHealth records each
// failure for /readyz (503 while accepts fail) and /metrics, and logs one
// event when a burst starts and one when it ends.
type acceptHealth struct {
	log     zerolog.Logger
	failing atomic.Bool  // a burst is on: the next success ends it
	total   atomic.Int64 // failed accepts, for /metrics

	mu          sync.Mutex
	addr        string
	err         error
	since, last time.Time
	burst       int64
}

// failed records a failed accept on addr.
func (a *acceptHealth) failed(addr string, err error) {
	a.total.Add(1)
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.failing.Load() || now.Sub(a.last) > acceptWindow {
		a.failing.Store(true)
		a.since, a.burst = now, 0
		a.log.Error().Err(err).Str("addr", addr).
			Msg("accept failing: new clients wait in the kernel's queue until it works again; /readyz answers 503 meanwhile")
	}
	a.addr, a.err, a.last = addr, err, now
	a.burst++
}

// accepted ends a burst of failures, if one is on.
func (a *acceptHealth) accepted(addr string) {
	if !a.failing.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failing.Swap(false) {
		a.log.Info().Str("addr", addr).Int64("failed", a.burst).Dur("after", time.Since(a.since)).Msg("accepting again")
	}
}

// problem describes why accepts are failing, nil when they are not.
func (a *acceptHealth) problem() error {
	if !a.failing.Load() {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.failing.Load() || time.Since(a.last) > acceptWindow {
		return nil
	}
	return fmt.Errorf("accept on %s failing since %s (%d attempts): %w", a.addr, a.since.Format(time.RFC3339), a.burst, a.err)
}

// watchedListener reports its accepts to an acceptHealth.
type watchedListener struct {
	net.Listener
	h *acceptHealth
}

func (l watchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		if !errors.Is(err, net.ErrClosed) {
			l.h.failed(l.Addr().String(), err)
		}
		return nil, err
	}
	l.h.accepted(l.Addr().String())
	return c, nil
}
