// Package testwait polls for a condition in tests, with a deadline: a
// test that waits on another goroutine's progress fails with a message
// instead of hanging until the test binary's timeout, and never relies on
// a sleep being long enough.
package testwait

import (
	"testing"
	"time"
)

// Timeout bounds every wait; far above what any condition needs on a
// loaded CI machine.
const Timeout = 30 * time.Second

// Until polls cond every millisecond until it holds, failing the test
// (naming what) if it does not within Timeout.
func Until(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("testwait: %s: still not the case after %v", what, Timeout)
		}
		time.Sleep(time.Millisecond)
	}
}
