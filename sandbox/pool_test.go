package sandbox

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/internal/testwait"
	"github.com/wasgi/wasgi/internal/testwasm"
)

func newRuntime(t *testing.T) *Runtime {
	t.Helper()
	rt, err := New(context.Background(), Options{CacheDir: testwasm.CacheDir(t), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

var testGroup = GroupConfig{Name: "t", Instances: 2, RequestTimeout: 5 * time.Second, QueueTimeout: time.Second, IdleTimeout: time.Minute}

func newPool(t *testing.T, rt *Runtime, gc GroupConfig, pkg string, ac AppConfig) (*Group, *Pool) {
	t.Helper()
	m, err := rt.Compile(context.Background(), testwasm.Build(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	g := rt.NewGroup(gc)
	t.Cleanup(func() { g.Close(context.Background()) })
	if ac.Name == "" {
		ac.Name = "test/app"
	}
	p, err := g.NewPool(m, ac)
	if err != nil {
		t.Fatal(err)
	}
	return g, p
}

func get(p *Pool, path string) (*httptest.ResponseRecorder, *Call, error) {
	env, _ := abi.AppendEnviron(nil, "REQUEST_METHOD", "GET")
	env, _ = abi.AppendEnviron(env, "PATH_INFO", path)
	env, _ = abi.AppendEnviron(env, "REQUEST_URI", path)
	rec := httptest.NewRecorder()
	c := &Call{Environ: env, W: HTTPResponse(rec), Log: zerolog.Nop()}
	return rec, c, p.Serve(context.Background(), c)
}

func TestCompileChecksABI(t *testing.T) {
	rt := newRuntime(t)
	m, err := rt.Compile(context.Background(), testwasm.Build(t, "testdata/guest"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != Reactor || !m.CheckPassword || !m.GroupsForUser {
		t.Fatalf("module = %+v", m)
	}
	hello, err := rt.Compile(context.Background(), testwasm.Build(t, "examples/hello"))
	if err != nil {
		t.Fatal(err)
	}
	if hello.CheckPassword || hello.GroupsForUser {
		t.Fatal("an app without abi/guest/auth exports the auth functions")
	}
	again, err := rt.Compile(context.Background(), testwasm.Build(t, "testdata/guest"))
	if err != nil || again != m {
		t.Fatal("the same bytes were compiled twice")
	}
}

func TestServeAndReuse(t *testing.T) {
	rt := newRuntime(t)
	g, p := newPool(t, rt, testGroup, "testdata/guest", AppConfig{})
	for i := 1; i <= 3; i++ {
		rec, _, err := get(p, "/counter")
		if err != nil {
			t.Fatal(err)
		}
		// One instance serves all three: its memory (the counter) persists.
		if got := rec.Body.String(); got != string(rune('0'+i)) {
			t.Fatalf("counter = %q, want %d", got, i)
		}
	}
	if s := g.Stats(); s.Created != 1 || s.Served != 3 || s.Idle != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestFailuresDiscardInstance(t *testing.T) {
	rt := newRuntime(t)
	gc := testGroup
	gc.RequestTimeout = time.Second
	g, p := newPool(t, rt, gc, "testdata/guest", AppConfig{MemoryLimit: 32 << 20})
	// Traps get a long request_timeout, so that a slow machine (the race
	// detector) cannot turn one into a timeout.
	slow := testGroup
	slow.RequestTimeout = time.Minute
	g2, p2 := newPool(t, rt, slow, "testdata/guest", AppConfig{MemoryLimit: 32 << 20})
	cases := []struct {
		path string
		want error
	}{
		{"/abi/body_write", ErrTrap},
		{"/abi/environ_read_len", ErrTrap},
		{"/spin", ErrTimeout},
		{"/sleep", ErrTimeout},
		{"/alloc", ErrTrap},
		{"/exit", ErrTrap},
		{"/panic", ErrAppFailed}, // the SDK recovers: no trap, non-zero result
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			p := p
			if tc.want != ErrTimeout {
				p = p2
			}
			get(p, "/counter") // warm instance with state
			_, c, err := get(p, tc.path)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if c.Started() {
				t.Fatal("response started")
			}
			rec, _, err := get(p, "/counter")
			if err != nil {
				t.Fatalf("next request: %v", err)
			}
			if tc.want != ErrAppFailed && rec.Body.String() != "1" {
				t.Fatalf("instance was not discarded: counter = %s", rec.Body.String())
			}
		})
	}
	if s := g.Stats(); s.TimedOut != 2 || s.Trapped != 0 {
		t.Fatalf("stats = %+v", s)
	}
	if s := g2.Stats(); s.TimedOut != 0 || s.Trapped != 4 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestPanicStderrKept(t *testing.T) {
	rt := newRuntime(t)
	_, p := newPool(t, rt, testGroup, "testdata/guest", AppConfig{})
	_, _, err := get(p, "/panic")
	var ge *GuestError
	if !errors.As(err, &ge) || !strings.Contains(ge.Stderr, "boom") {
		t.Fatalf("err = %v", err)
	}
}

func TestMemoryLimitBelowModuleMinimum(t *testing.T) {
	rt := newRuntime(t)
	m, err := rt.Compile(context.Background(), testwasm.Build(t, "testdata/guest"))
	if err != nil {
		t.Fatal(err)
	}
	g := rt.NewGroup(testGroup)
	defer g.Close(context.Background())
	if _, err := g.NewPool(m, AppConfig{Name: "x", MemoryLimit: 64 << 10}); err == nil || !strings.Contains(err.Error(), "memory_limit") {
		t.Fatalf("err = %v", err)
	}
}

func TestQueueTimeoutAndSharedCapacity(t *testing.T) {
	rt := newRuntime(t)
	gc := testGroup
	gc.Instances = 1
	gc.QueueTimeout = 50 * time.Millisecond
	gc.RequestTimeout = 2 * time.Second
	g, a := newPool(t, rt, gc, "testdata/guest", AppConfig{Name: "a"})
	m, _ := rt.Compile(context.Background(), testwasm.Build(t, "testdata/guest"))
	b, err := g.NewPool(m, AppConfig{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	// Hold the only instance with a request that spins until its timeout.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); get(a, "/spin") }()
	testwait.Until(t, "/spin holds the instance", func() bool { return g.Stats().InUse > 0 })
	if _, _, err := get(b, "/counter"); !errors.Is(err, ErrQueueTimeout) {
		t.Fatalf("err = %v, want ErrQueueTimeout", err)
	}
	wg.Wait()
	// a's instance is gone (timed out); b now gets the group's capacity.
	if _, _, err := get(b, "/counter"); err != nil {
		t.Fatal(err)
	}
	// and a evicts b's idle instance: never more than Instances alive.
	if _, _, err := get(a, "/counter"); err != nil {
		t.Fatal(err)
	}
	if s := g.Stats(); s.Idle+s.InUse > 1 || s.Refused != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestHammer(t *testing.T) {
	rt := newRuntime(t)
	gc := testGroup
	gc.Instances = 3
	gc.MaxRequests = 7
	// 8 clients share 3 instances that are recycled every 7 requests: on a
	// loaded race run a request may wait for several new instances.
	gc.QueueTimeout = 30 * time.Second
	g, p := newPool(t, rt, gc, "testdata/guest", AppConfig{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 12 {
				rec, _, err := get(p, "/counter")
				if err != nil {
					errs <- err
					return
				}
				if rec.Code != http.StatusOK {
					errs <- errors.New(rec.Body.String())
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := g.Stats()
	if s.Served != 96 || s.InUse != 0 || s.Idle > 3 || s.Recycled == 0 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestCompileRefusesWrongModules(t *testing.T) {
	// Hand-written modules: header, then the sections given.
	mod := func(sections ...[]byte) string {
		b := []byte("\x00asm\x01\x00\x00\x00")
		for _, s := range sections {
			b = append(b, s...)
		}
		p := filepath.Join(t.TempDir(), "m.wasm")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// type 0: () -> i32; type 1: () -> ()
	types := []byte{0x01, 0x08, 0x02, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x00, 0x00}
	cases := []struct {
		name string
		path string
		want string
	}{
		{"no exports", mod(), "exports neither wasgi_handle"},
		{"unknown wasgi import", mod(types,
			[]byte{0x02, 0x0e, 0x01, 0x05, 'w', 'a', 's', 'g', 'i', 0x04, 'n', 'o', 'p', 'e', 0x00, 0x00}),
			"imports unknown function wasgi.nope"},
		{"wrong signature", mod(types,
			[]byte{0x02, 0x15, 0x01, 0x05, 'w', 'a', 's', 'g', 'i', 0x0b, 'e', 'n', 'v', 'i', 'r', 'o', 'n', '_', 'l', 'e', 'n', 0x00, 0x01}),
			"imports wasgi.environ_len with signature (), want () -> i32"},
		{"foreign module", mod(types,
			[]byte{0x02, 0x0b, 0x01, 0x03, 'e', 'n', 'v', 0x03, 'f', 'o', 'o', 0x00, 0x00}),
			`imports env.foo: only modules "wasgi" and "wasi_snapshot_preview1" exist`},
		{"command with handle", mod(types,
			[]byte{0x03, 0x03, 0x02, 0x00, 0x01},
			[]byte{0x07, 0x19, 0x02, 0x0c, 'w', 'a', 's', 'g', 'i', '_', 'h', 'a', 'n', 'd', 'l', 'e', 0x00, 0x00, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x01},
			[]byte{0x0a, 0x09, 0x02, 0x04, 0x00, 0x41, 0x00, 0x0b, 0x02, 0x00, 0x0b}),
			"is a WASI command"},
	}
	rt := newRuntime(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rt.Compile(context.Background(), tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("err = %v, want %q and the path", err, tc.want)
			}
		})
	}
}

// TestNeverOverCapacity: a refill racing a request must not push the group
// past its instances (the review's reproduction: instances=1,
// min_instances=1, a trap, then a request while the refill runs).
func TestNeverOverCapacity(t *testing.T) {
	rt := newRuntime(t)
	gc := testGroup
	gc.Instances, gc.MinInstances = 1, 1
	g, p := newPool(t, rt, gc, "testdata/guest", AppConfig{})
	if err := p.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		get(p, "/exit") // discards the instance, starts a refill
		time.Sleep(2 * time.Millisecond)
		if _, _, err := get(p, "/counter"); err != nil && !errors.Is(err, ErrQueueTimeout) {
			t.Fatal(err)
		}
		g.mu.Lock()
		alive := g.alive
		g.mu.Unlock()
		if alive > 1 {
			t.Fatalf("alive = %d with instances = 1", alive)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.mu.Lock()
		alive, idle := g.alive, len(p.idle)
		g.mu.Unlock()
		if alive == 1 && idle == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alive %d idle %d", alive, idle)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReleaseFreesModule(t *testing.T) {
	rt := newRuntime(t)
	path := testwasm.Build(t, "examples/hello")
	a, err := rt.Compile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := rt.Compile(context.Background(), path)
	if a != b {
		t.Fatal("not shared")
	}
	rt.Release(context.Background(), a)
	if rt.modules[a.Hash] == nil {
		t.Fatal("freed while still referenced")
	}
	rt.Release(context.Background(), b)
	if rt.modules[a.Hash] != nil {
		t.Fatal("not freed after the last release")
	}
	c, err := rt.Compile(context.Background(), path) // compiled again (from the disk cache)
	if err != nil || c == a {
		t.Fatalf("recompile: %v", err)
	}
}

func TestRetire(t *testing.T) {
	rt := newRuntime(t)
	g, p := newPool(t, rt, testGroup, "testdata/guest", AppConfig{})
	get(p, "/counter")
	if g.Stats().Idle != 1 {
		t.Fatal("no idle instance")
	}
	g.Retire(context.Background())
	if s := g.Stats(); s.Idle != 0 {
		t.Fatalf("after retire: %+v", s)
	}
	// Still serves, keeps nothing.
	if rec, _, err := get(p, "/counter"); err != nil || rec.Body.String() != "1" {
		t.Fatalf("retired group: %v", err)
	}
	if s := g.Stats(); s.Idle != 0 {
		t.Fatalf("kept an instance: %+v", s)
	}
}

// A warm instance's stderr tail is per call: a failed request's error
// carries what the guest wrote during that request, not an earlier one's
// output (which may belong to another user).
func TestGuestErrorStderrIsThisCalls(t *testing.T) {
	rt := newRuntime(t)
	g := testGroup
	g.Instances = 1
	_, p := newPool(t, rt, g, "testdata/guest", AppConfig{})
	if _, _, err := get(p, "/log"); err != nil {
		t.Fatal(err)
	}
	_, _, err := get(p, "/noresponse")
	var gerr *GuestError
	if !errors.As(err, &gerr) || gerr.Kind != ErrAppFailed {
		t.Fatalf("/noresponse: %v, want ErrAppFailed", err)
	}
	if strings.Contains(gerr.Stderr, "hello from stderr") {
		t.Fatalf("the error of /noresponse carries the earlier request's stderr: %q", gerr.Stderr)
	}
	// The tail still works: a panic's own trace is there.
	_, _, err = get(p, "/panic")
	if !errors.As(err, &gerr) || !strings.Contains(gerr.Stderr, "boom") {
		t.Fatalf("/panic: stderr %q, want the panic message", gerr.Stderr)
	}
}

// TestUnload: a pool with an instance is not unloaded; once its instances
// are gone it leaves its group (which then counts and reaps it no more),
// its dirs are closed, and a call on it gets ErrClosed.
func TestUnload(t *testing.T) {
	rt := newRuntime(t)
	dir := t.TempDir()
	g, p := newPool(t, rt, testGroup, "testdata/guest", AppConfig{Dirs: []Dir{{Guest: "/data", Host: dir}}})
	if _, _, err := get(p, "/counter"); err != nil {
		t.Fatal(err)
	}
	if p.Unload() {
		t.Fatal("unloaded with an idle instance")
	}
	g.Retire(context.Background()) // closes the idle instance
	if !p.Unload() || !p.Unload() {
		t.Fatal("not unloaded without instances")
	}
	g.mu.Lock()
	pools, roots := len(g.pools), len(g.roots)
	g.mu.Unlock()
	if pools != 0 || roots != 0 {
		t.Fatalf("group still holds %d pools, %d roots", pools, roots)
	}
	if _, err := p.roots[0].Stat("."); err == nil {
		t.Fatal("the app's dir is still open")
	}
	if _, _, err := get(p, "/counter"); !errors.Is(err, ErrClosed) {
		t.Fatalf("call on an unloaded pool: %v, want ErrClosed", err)
	}
}
