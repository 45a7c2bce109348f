package sandbox

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRespawnLimit: a group whose requests trap gets its instances
// replaced at a bounded rate: a request that would start one sooner,
// past queue_timeout, is refused with ErrQueueTimeout without running
// any guest code; instances closed without a failure (max_requests) are
// replaced without a limit.
func TestRespawnLimit(t *testing.T) {
	rt := newRuntime(t)
	flood := func(t *testing.T, g *Group, p *Pool) {
		t.Helper()
		traps, refused := 0, 0
		for i := 0; i < 50 && refused == 0; i++ {
			_, _, err := get(p, "/abi/body_write") // out of bounds: a trap
			switch {
			case errors.Is(err, ErrQueueTimeout):
				refused++
			case err != nil:
				traps++
			default:
				t.Fatal("/abi/body_write answered")
			}
		}
		if refused == 0 || traps < 4 {
			t.Fatalf("%d traps, %d refused: want the burst (4) to pass, then a refusal", traps, refused)
		}
		if st := g.Stats(); st.Refused == 0 {
			t.Fatalf("refusals not counted: %+v", st)
		}
	}
	gc := testGroup
	gc.Instances, gc.QueueTimeout = 1, time.Millisecond
	g, p := newPool(t, rt, gc, "testdata/guest", AppConfig{})
	flood(t, g, p)
	// With min_instances, the refills after traps wait their turn too:
	// else every trap would start a new instance in the background.
	gc.Name, gc.MinInstances, gc.QueueTimeout = "warm", 1, 20*time.Millisecond
	g, p = newPool(t, rt, gc, "testdata/guest", AppConfig{Name: "test/warm"})
	if err := p.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 50 {
		get(p, "/abi/body_write")
	}
	// The limiter's invariant, whatever the machine's speed: starts after
	// the first are at most the burst plus the rate times the time taken.
	l := g.respawn
	bound := 1 + l.burst + l.rate*time.Since(start).Seconds() + 1
	if st := g.Stats(); float64(st.Created) > bound {
		t.Fatalf("%d instances started in %v, want at most %.0f", st.Created, time.Since(start), bound)
	}
	gc.MinInstances, gc.QueueTimeout = 0, time.Millisecond

	// Recycling is not a failure: max_requests = 1 starts an instance for
	// every request, none refused.
	gc.Name, gc.MaxRequests = "recycle", 1
	_, rp := newPool(t, rt, gc, "testdata/guest", AppConfig{Name: "test/recycle"})
	for i := range 8 {
		if rec, _, err := get(rp, "/env"); err != nil || rec.Code != 200 {
			t.Fatalf("recycled request %d: %v", i, err)
		}
	}
}
