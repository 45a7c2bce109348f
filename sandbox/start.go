package sandbox

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// An app whose instances fail to start (its _initialize traps, a Python
// app's import raises) would otherwise be started again by every request:
// for a Python app a fresh interpreter and a traceback per request, for
// as long as the app is broken. So a failed start marks the pool failing
// and a backoff begins, 1 s doubling up to 60 s: until it has passed, a
// request that needs a new instance is refused at once (ErrStartFailed),
// without running guest code; then one request makes a real new attempt
// while the others are still refused. A start that succeeds clears it.
// Idle instances, if the app has any, keep serving meanwhile. A reload
// makes new pools, which start with a clean slate.

// Backoff between start attempts of a failing app.
const (
	StartBackoffMin = time.Second
	StartBackoffMax = time.Minute
)

// ErrStartFailed: the app's instances fail to start, and a new one was
// not tried or failed (503, with a Retry-After until the next attempt).
var ErrStartFailed = errors.New("sandbox: app fails to start")

// StartError is a call that needed a new instance of an app whose
// instances fail to start.
type StartError struct {
	// Err is the failed start: this call's own when it tried one, else
	// the app's last. A *GuestError of kind ErrInstantiate, with the
	// stderr tail (a Python traceback).
	Err *GuestError
	// Attempt: this call's start failed and set the backoff, the one
	// failure to report. Calls refused until RetryAt are not, nor starts
	// that were already running when the first one failed.
	Attempt bool
	// RetryAt is when the next start may be tried.
	RetryAt time.Time
	// Failures counts the app's failed starts since starts last worked.
	Failures int64
}

func (e *StartError) Error() string {
	if e.Attempt {
		return e.Err.Error()
	}
	return fmt.Sprintf("%v, next try in %s: %v", ErrStartFailed, time.Until(e.RetryAt).Round(time.Second), e.Err)
}

// Unwrap makes errors.Is(err, ErrStartFailed) and errors.As(err,
// **GuestError) work.
func (e *StartError) Unwrap() []error { return []error{ErrStartFailed, e.Err} }

// StartFailure describes an app whose instances fail to start.
type StartFailure struct {
	Err      *GuestError // the last failed start
	Since    time.Time   // the first failure since starts last worked
	RetryAt  time.Time   // the next attempt, not before
	Failures int64       // failed starts since then
}

// startState is a pool's record of its failing starts.
type startState struct {
	mu      sync.Mutex
	failing StartFailure // Err nil: starts work
	delay   time.Duration
	trying  bool          // an attempt after the backoff is running
	total   *atomic.Int64 // AppConfig.StartFailures; never nil
}

// begin asks whether a new instance may be started now. While the app
// is failing, only one call after the backoff may try (probe); the others
// get a StartError.
func (s *startState) begin(now time.Time) (probe bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing.Err == nil {
		return false, nil
	}
	if s.trying || now.Before(s.failing.RetryAt) {
		return false, s.refusal()
	}
	s.trying = true
	return true, nil
}

// refusing reports, without taking a turn, whether a call needing a new
// instance would be refused now.
func (s *startState) refusing(now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing.Err != nil && (s.trying || now.Before(s.failing.RetryAt)) {
		return s.refusal()
	}
	return nil
}

// refusal is the error of a call refused during the backoff; s.mu held.
func (s *startState) refusal() *StartError {
	return &StartError{Err: s.failing.Err, RetryAt: s.failing.RetryAt, Failures: s.failing.Failures}
}

// failed records a failed start. The first failure, and that of the
// probe after each backoff, set the next backoff and are the Attempt to
// report; a start that was already running when the app began failing
// only counts.
func (s *startState) failed(gerr *GuestError, probe bool, now time.Time) *StartError {
	s.total.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing.Failures++
	first := s.failing.Err == nil
	if !first && !probe {
		return &StartError{Err: gerr, RetryAt: s.failing.RetryAt, Failures: s.failing.Failures}
	}
	if first {
		s.failing.Since, s.delay = now, StartBackoffMin
	} else {
		s.delay = min(2*s.delay, StartBackoffMax)
	}
	s.trying = false
	s.failing.Err, s.failing.RetryAt = gerr, now.Add(s.delay)
	return &StartError{Err: gerr, Attempt: true, RetryAt: s.failing.RetryAt, Failures: s.failing.Failures}
}

// started records a start that worked; it returns what the app's
// failing was, if it was (Err nil otherwise).
func (s *startState) started() StartFailure {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.failing
	s.failing, s.delay, s.trying = StartFailure{}, 0, false
	return was
}

// StartFailure reports whether the app's instances fail to start, and
// how: for /readyz and /metrics.
func (p *Pool) StartFailure() (StartFailure, bool) {
	p.start.mu.Lock()
	defer p.start.mu.Unlock()
	return p.start.failing, p.start.failing.Err != nil
}

// startDone records how a start (newInstance) begun with
// p.start.begin ended, returning in or the StartError for err, and logs
// an app that starts again.
func (p *Pool) startDone(in *instance, err error, probe bool) (*instance, error) {
	if err != nil {
		gerr, ok := err.(*GuestError)
		if !ok {
			gerr = &GuestError{Kind: ErrInstantiate, Err: err}
		}
		return nil, p.start.failed(gerr, probe, time.Now())
	}
	if was := p.start.started(); was.Err != nil {
		p.cfg.HostLogger.Info().Int64("failures", was.Failures).Time("failing_since", was.Since).
			Msg("app starts again")
	}
	return in, nil
}
