package sandbox

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/internal/testwasm"
)

// TestStackLimit: a call recursing past its app's stack budget traps,
// with an error that says so; one within it answers, and when it went deep
// (more than keptStack) the instance drops the function whose native
// stack grew, so that the grown stack goes with the garbage instead of
// staying with the warm instance.
func TestStackLimit(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t)
	m, err := rt.Compile(ctx, testwasm.BuildC(t, "testdata/exhaust/exhaust.c", true))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Release(ctx, m)
	g := rt.NewGroup(testGroup)
	defer g.Close(ctx)
	newApp := func(limit uint64) *Pool {
		p, err := g.NewPool(m, AppConfig{Name: "t/deep", StackLimit: limit, Logger: zerolog.Nop(), HostLogger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	recurse := func(p *Pool, depth string) (string, error) {
		env, _ := abi.AppendEnviron(nil, "REQUEST_METHOD", "GET")
		env, _ = abi.AppendEnviron(env, "QUERY_STRING", "recurse="+depth)
		rec := httptest.NewRecorder()
		err := p.Serve(ctx, &Call{Environ: env, W: HTTPResponse(rec), Log: zerolog.Nop()})
		return rec.Body.String(), err
	}
	handler := func(p *Pool) api.Function {
		g.mu.Lock()
		defer g.mu.Unlock()
		return p.idle[len(p.idle)-1].fns[phaseHandle]
	}

	p := newApp(0)
	if _, err := recurse(p, "100"); err != nil {
		t.Fatal(err)
	}
	shallow := handler(p)
	if _, err := recurse(p, "100"); err != nil || handler(p) != shallow {
		t.Fatalf("a shallow call: %v; function replaced: %v", err, handler(p) != shallow)
	}
	if _, err := recurse(p, "50000"); err != nil {
		t.Fatalf("50,000 calls deep within the default budget: %v", err)
	}
	if handler(p) == shallow {
		t.Fatal("the function whose stack grew is kept by the warm instance")
	}

	_, err = recurse(newApp(64<<10), "5000")
	var gerr *GuestError
	if !errors.As(err, &gerr) || gerr.Kind != ErrTrap || !errors.Is(err, errStackExhausted) {
		t.Fatalf("5,000 calls deep on a 64 KiB budget: %v, want a trap at the stack budget", err)
	}
}
