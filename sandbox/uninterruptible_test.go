package sandbox

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/internal/testwasm"
)

func TestCompileUninterruptible(t *testing.T) {
	rt := newRuntime(t)
	path := testwasm.Build(t, "testdata/guest")
	hard, err := rt.Compile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	soft, err := rt.CompileUninterruptible(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if soft == hard || soft.Interruptible || !hard.Interruptible || soft.compiled == hard.compiled ||
		hard.stop != byInterrupt || soft.stop != byAbandon {
		t.Fatalf("hard %+v, soft %+v: want an instrumented module and a plain one", hard, soft)
	}
	again, err := rt.CompileUninterruptible(context.Background(), path)
	if err != nil || again != soft {
		t.Fatal("the same bytes were compiled twice without hard timeout")
	}
	if s := rt.CompileStats(); s.Compiled != 2 || s.Reused != 1 || s.Loaded != 2 {
		t.Fatalf("stats %+v", s)
	}
	for _, m := range []*Module{hard, soft, again} {
		rt.Release(context.Background(), m)
	}
	if s := rt.CompileStats(); s.Loaded != 0 {
		t.Fatalf("after release: %+v", s)
	}
}

// TestAbandonedCall: a call of an uninterruptible module past its deadline
// answers ErrTimeout without waiting for the guest, which keeps its slot
// until it returns and can no longer touch the request; the group goes on
// serving with its other instance.
func TestAbandonedCall(t *testing.T) {
	rt := newRuntime(t)
	m, err := rt.CompileUninterruptible(context.Background(), testwasm.Build(t, "testdata/guest"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Release(context.Background(), m) })
	g := rt.NewGroup(GroupConfig{Name: "soft", Instances: 2, RequestTimeout: 300 * time.Millisecond, QueueTimeout: 10 * time.Second, IdleTimeout: time.Minute})
	t.Cleanup(func() { g.Close(context.Background()) })
	p, err := g.NewPool(m, AppConfig{Name: "test/soft"})
	if err != nil {
		t.Fatal(err)
	}
	if rec, _, err := getQuery(p, "/counter", ""); err != nil || rec.Body.String() != "1" {
		t.Fatalf("counter: %q %v", rec.Body.String(), err)
	}

	rec, c, err := getQuery(p, "/busy", "ms=2000")
	if !errors.Is(err, ErrTimeout) || c.Started() {
		t.Fatalf("busy: started %v, err %v", c.Started(), err)
	}
	// The runaway holds one instance; the other serves.
	if r, _, err := getQuery(p, "/counter", ""); err != nil || r.Code != 200 {
		t.Fatalf("while a runaway runs: %d %v", r.Code, err)
	}
	waitIdle(t, g)
	if rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Fatalf("the abandoned guest wrote %q %v", rec.Body.String(), rec.Header())
	}

	// A sleeping guest is stopped at the deadline (else it would sleep
	// for an hour, waking at every deadline check).
	if _, _, err := getQuery(p, "/sleep", ""); !errors.Is(err, ErrTimeout) {
		t.Fatalf("sleep: %v", err)
	}
	waitIdle(t, g)

	s := g.Stats()
	if s.TimedOut != 2 || s.Trapped != 0 || s.InUse != 0 {
		t.Fatalf("stats %+v", s)
	}
	g.mu.Lock()
	alive, pAlive, idle := g.alive, p.alive, len(p.idle)
	g.mu.Unlock()
	if alive != idle || pAlive != idle {
		t.Fatalf("alive %d (app %d), idle %d", alive, pAlive, idle)
	}
	if _, _, err := getQuery(p, "/counter", ""); err != nil {
		t.Fatal(err)
	}
}

// waitIdle waits until no instance of g is in use (abandoned calls
// returned).
func waitIdle(t *testing.T, g *Group) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for g.Stats().InUse != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still in use: %+v", g.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getQuery(p *Pool, path, query string) (*httptest.ResponseRecorder, *Call, error) {
	env, _ := abi.AppendEnviron(nil, "REQUEST_METHOD", "GET")
	env, _ = abi.AppendEnviron(env, "PATH_INFO", path)
	env, _ = abi.AppendEnviron(env, "QUERY_STRING", query)
	rec := httptest.NewRecorder()
	c := &Call{Environ: env, W: rec, Log: zerolog.Nop()}
	return rec, c, p.Serve(context.Background(), c)
}
