package sandbox

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestStartBackoff: the record of a failing app's starts, on a clock of
// its own: the first failure backs off 1 s, each failed retry doubles it
// up to a minute, one call at a time retries once the backoff passed, a
// start that was already running when the app began failing does not
// extend the backoff, and a start that works clears everything.
func TestStartBackoff(t *testing.T) {
	s := &startState{total: new(atomic.Int64)}
	t0 := time.Unix(1000, 0)
	fail := &GuestError{Kind: ErrInstantiate, Err: errors.New("_initialize: unreachable"), Stderr: "Traceback"}

	if probe, err := s.begin(t0); probe || err != nil {
		t.Fatalf("a healthy app: probe %v, err %v", probe, err)
	}
	se := s.failed(fail, false, t0)
	if !se.Attempt || !se.RetryAt.Equal(t0.Add(StartBackoffMin)) || se.Failures != 1 || !errors.Is(se, ErrStartFailed) || !errors.Is(se, ErrInstantiate) {
		t.Fatalf("first failure: %+v", se)
	}
	// A start begun before the failure was known fails too: counted, not
	// reported, no longer backoff.
	if se := s.failed(fail, false, t0.Add(10*time.Millisecond)); se.Attempt || !se.RetryAt.Equal(t0.Add(StartBackoffMin)) {
		t.Fatalf("concurrent failure: %+v", se)
	}
	if _, err := s.begin(t0.Add(500 * time.Millisecond)); err == nil || !errors.Is(err, ErrStartFailed) {
		t.Fatalf("within the backoff: %v", err)
	}
	if err := s.refusing(t0.Add(500 * time.Millisecond)); err == nil {
		t.Fatal("refusing within the backoff: nil")
	}

	now, want := t0.Add(StartBackoffMin), 2*StartBackoffMin
	for range 10 {
		probe, err := s.begin(now)
		if !probe || err != nil {
			t.Fatalf("after the backoff, at %v: probe %v, err %v", now.Sub(t0), probe, err)
		}
		if _, err := s.begin(now); err == nil {
			t.Fatal("a second call while the probe runs was let through")
		}
		se := s.failed(fail, true, now)
		if !se.Attempt || se.RetryAt.Sub(now) != want {
			t.Fatalf("failed probe at %v: retry in %v, want %v", now.Sub(t0), se.RetryAt.Sub(now), want)
		}
		now, want = se.RetryAt, min(2*want, StartBackoffMax)
	}
	if f := s.failing; f.Err != fail || !f.Since.Equal(t0) || f.Failures != 12 || s.total.Load() != 12 {
		t.Fatalf("failing: %+v, total %d", f, s.total.Load())
	}
	probe, _ := s.begin(now)
	if was := s.started(); !probe || was.Failures != 12 {
		t.Fatalf("started: probe %v, was %+v", probe, was)
	}
	if probe, err := s.begin(now); probe || err != nil || s.refusing(now) != nil {
		t.Fatalf("after a start that worked: probe %v, err %v", probe, err)
	}
}
