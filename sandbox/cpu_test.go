package sandbox

import (
	"context"
	"sync"
	"testing"
	"time"
)

// waitQueued waits until n calls wait for a token.
func waitQueued(t *testing.T, s *cpuSched, n int32) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.nwait.Load() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls waiting, want %d", s.nwait.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCPUSchedOrder: a freed token goes to the waiting call whose group
// used the least CPU, then in arrival order; a call that gives up (its
// deadline) leaves the queue without taking a token with it.
func TestCPUSchedOrder(t *testing.T) {
	s := newCPUSched(1)
	busy, quiet, other := &cpuShare{}, &cpuShare{}, &cpuShare{}
	busy.used, busy.at = float64(time.Second), nanotime()
	holder := &cpuSlot{sched: s, share: other}
	holder.acquire(context.Background())
	if !holder.holding || s.free != 0 {
		t.Fatal("the first call did not get the free token")
	}

	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	run := func(name string, share *cpuShare, ctx context.Context) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &cpuSlot{sched: s, share: share}
			c.acquire(ctx)
			if c.holding {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				c.release()
			}
		}()
	}
	run("busy-1", busy, context.Background())
	waitQueued(t, s, 1)
	run("busy-2", busy, context.Background())
	waitQueued(t, s, 2)
	gone, cancel := context.WithCancel(context.Background())
	run("gone", quiet, gone)
	waitQueued(t, s, 3)
	cancel()
	waitQueued(t, s, 2)
	run("quiet", quiet, context.Background())
	waitQueued(t, s, 3)

	holder.release()
	wg.Wait()
	if got := order; len(got) != 3 || got[0] != "quiet" || got[1] != "busy-1" || got[2] != "busy-2" {
		t.Fatalf("tokens went to %q, want quiet first, then the busy group in arrival order", got)
	}
	if s.free != 1 || s.nwait.Load() != 0 {
		t.Fatalf("after everyone: %d free tokens, %d waiting; want 1, 0", s.free, s.nwait.Load())
	}
	if quiet.used <= 0 || busy.used <= float64(time.Second)/2 {
		t.Fatalf("usage not charged: quiet %v, busy %v", quiet.used, busy.used)
	}
}

// TestCPUSchedYield: a call past its quantum keeps its token while no one
// waits, and passes it on at its next yield once someone does.
func TestCPUSchedYield(t *testing.T) {
	s := newCPUSched(1)
	long := &cpuSlot{sched: s, share: &cpuShare{}}
	long.acquire(context.Background())
	long.since -= int64(2 * cpuQuantum)
	long.yield(context.Background())
	if !long.holding || s.free != 0 {
		t.Fatal("a call with no one waiting gave its token away")
	}
	got := make(chan struct{})
	go func() {
		c := &cpuSlot{sched: s, share: &cpuShare{}}
		c.acquire(context.Background())
		close(got)
		c.release()
	}()
	waitQueued(t, s, 1)
	long.since = nanotime() // within its quantum: keeps the token
	long.yield(context.Background())
	select {
	case <-got:
		t.Fatal("the token left a call within its quantum")
	default:
	}
	long.since -= int64(2 * cpuQuantum)
	long.yield(context.Background()) // passes the token, waits for it back
	<-got
	if !long.holding {
		t.Fatal("the long call did not get its token back")
	}
	long.release()
	if s.free != 1 {
		t.Fatalf("%d free tokens, want 1", s.free)
	}
}

// TestCPUSchedGuests: with one token, a quiet group's request is served
// while a flooding group's guests spin, and the token is handed between
// them at the guests' yields (the listener on $yield works). Without the
// scheduler the quiet request would still be answered (the kernel shares
// the cores), so what is checked is that the spinning calls did give the
// token away: the quiet group's calls got it while they ran.
func TestCPUSchedGuests(t *testing.T) {
	rt := newRuntime(t)
	rt.cpu = newCPUSched(1)
	gc := testGroup
	gc.Instances, gc.RequestTimeout = 3, 2*time.Second
	gc.Name = "flood"
	_, flood := newPool(t, rt, gc, "testdata/guest", AppConfig{Name: "flood/app"})
	gc.Name, gc.Instances, gc.RequestTimeout = "quiet", 1, 5*time.Second
	_, quiet := newPool(t, rt, gc, "testdata/guest", AppConfig{Name: "quiet/app"})
	// Warm both, so that no instance start is measured below.
	for _, p := range []*Pool{flood, quiet} {
		if rec, _, err := get(p, "/env"); err != nil || rec.Code != 200 {
			t.Fatalf("warm: %v %d", err, rec.Code)
		}
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			get(flood, "/spin") // until its request_timeout
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); flood.g.inUse.Load() < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("the flood did not start: %d in use", flood.g.inUse.Load())
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 20 {
		rec, _, err := get(quiet, "/env")
		if err != nil || rec.Code != 200 {
			t.Fatalf("quiet request %d: %v %d", i, err, rec.Code)
		}
		if flood.g.inUse.Load() < 3 {
			t.Fatalf("quiet request %d answered only after the flood ended", i)
		}
	}
	wg.Wait()
	if st := quiet.g.Stats(); quiet.g.share.used <= 0 || st.CPU <= 0 {
		t.Fatalf("the quiet group's CPU was not counted: %+v", st)
	}
	if st := flood.g.Stats(); st.CPUWait <= 0 || st.CPU <= 0 {
		t.Fatalf("the flood's calls never waited: %+v", st)
	}
	if quiet.g.share.used <= 0 {
		t.Fatal("the quiet group's CPU was not counted")
	}
	rt.cpu.mu.Lock()
	defer rt.cpu.mu.Unlock()
	if rt.cpu.free != 1 || len(rt.cpu.short)+len(rt.cpu.longQ) != 0 {
		t.Fatalf("after the calls: %d free tokens, %d waiting; want 1, 0", rt.cpu.free, len(rt.cpu.short)+len(rt.cpu.longQ))
	}
}

// TestCPUSchedLongCap: long calls hold at most all tokens but one, so a
// short call finds a token while two long calls want both; and a long
// call gives its token to a waiting short call at its next yield.
func TestCPUSchedLongCap(t *testing.T) {
	s := newCPUSched(2)
	mk := func() *cpuSlot { return &cpuSlot{sched: s, share: &cpuShare{}} }
	a, b := mk(), mk()
	for _, c := range []*cpuSlot{a, b} {
		c.acquire(context.Background())
		c.callStart = nanotime() - int64(2*cpuLongCall)
	}
	a.yield(context.Background()) // a becomes long, keeps a token
	if !a.holding || !a.long || s.long != 1 {
		t.Fatalf("a: holding %v, long %v; %d long tokens", a.holding, a.long, s.long)
	}
	bDone := make(chan struct{})
	go func() {
		b.yield(context.Background()) // b becomes long: must wait, the cap is 1
		close(bDone)
	}()
	waitQueued(t, s, 1)
	select {
	case <-bDone:
		t.Fatal("a second long call got a token past the cap")
	default:
	}
	short := mk()
	short.acquire(context.Background()) // the token b gave back
	if !short.holding {
		t.Fatal("a short call found no token")
	}
	// Another short call waits; a's next yield gives it a's token.
	got := make(chan struct{})
	go func() {
		c := mk()
		c.acquire(context.Background())
		close(got)
		c.release()
	}()
	waitQueued(t, s, 2)
	aDone := make(chan struct{})
	go func() {
		a.yield(context.Background())
		close(aDone)
	}()
	<-got
	short.release()
	// One long call at a time: whichever has the token gives it to the
	// other when it ends.
	select {
	case <-aDone:
		a.release()
		<-bDone
		b.release()
	case <-bDone:
		b.release()
		<-aDone
		a.release()
	}
	if s.free != 2 || s.long != 0 || s.nwait.Load() != 0 {
		t.Fatalf("after everyone: %d free, %d long, %d waiting", s.free, s.long, s.nwait.Load())
	}
}
