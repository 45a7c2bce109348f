package sandbox

import (
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
	gc := testGroup
	gc.Instances, gc.QueueTimeout = 1, time.Millisecond
	g, p := newPool(t, rt, gc, "testdata/guest", AppConfig{})
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
