package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasgi/wasgi/internal/testwasm"
	"github.com/wasgi/wasgi/internal/wasmrw"
)

// instantiateInstrumented instantiates wasm, instrumented, in a runtime
// without close-on-context-done, and returns it with its interrupt global.
func instantiateInstrumented(t testing.TB, wasm []byte) (api.Module, api.MutableGlobal) {
	t.Helper()
	ctx := context.Background()
	out, err := wasmrw.Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wasmrw.Instrument(out); err != wasmrw.ErrParse {
		t.Fatalf("instrumented twice: %v", err)
	}
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	mod, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := mod.ExportedGlobal(wasmrw.InterruptExport).(api.MutableGlobal)
	if !ok {
		t.Fatal("no mutable interrupt global exported")
	}
	return mod, g
}

// TestInterruptStops: guest code that never ends, by looping or by
// recursing, compiled without close-on-context-done, traps once the host
// sets its interrupt global; the global is clear again afterwards.
func TestInterruptStops(t *testing.T) {
	mod, g := instantiateInstrumented(t, testwasm.Runaway)
	for _, export := range []string{"spin", "recurse"} {
		t.Run(export, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			var callErr error
			fired := interrupted(ctx, g, func() { _, callErr = mod.ExportedFunction(export).Call(ctx) })
			if !fired || callErr == nil || !strings.Contains(callErr.Error(), "unreachable") {
				t.Fatalf("fired %v, err %v: want a trap", fired, callErr)
			}
			if g.Get() != 0 {
				t.Fatal("interrupt global left set")
			}
		})
	}
}

// TestCallTimer: an instance's one timer stops each of its calls at that
// call's deadline, and a fire left over from an earlier call (a timer
// that went off as the call returned) does not stop the next one.
func TestCallTimer(t *testing.T) {
	mod, g := instantiateInstrumented(t, testwasm.Runaway)
	c := newCallTimer(g)
	defer c.stop()
	ctx := context.Background()
	for range 3 { // the same timer, call after call
		var err error
		if fired := c.run(20*time.Millisecond, func() { _, err = mod.ExportedFunction("spin").Call(ctx) }); !fired || err == nil {
			t.Fatalf("fired %v, err %v: want a trap", fired, err)
		}
		if g.Get() != 0 {
			t.Fatal("interrupt global left set")
		}
	}
	fired := c.run(time.Hour, func() {
		c.fire() // as the timer armed for the call before would, late
		if g.Get() != 0 {
			t.Error("a late fire set the interrupt of the next call")
		}
	})
	if fired {
		t.Fatal("a call within its deadline reported stopped")
	}
	c.fire() // between calls: nothing runs, nothing is set
	if g.Get() != 0 {
		t.Fatal("a fire between calls set the interrupt")
	}
}

// TestGCWhileGuestSpins: a garbage collection completes while a guest
// spins in a loop. wazero's machine code cannot be preempted; without the
// yields to Go the collection would wait for the guest, and the guest for
// the goroutine that sets its interrupt global, forever.
func TestGCWhileGuestSpins(t *testing.T) {
	mod, g := instantiateInstrumented(t, testwasm.Runaway)
	for _, export := range []string{"spin", "recurse"} {
		t.Run(export, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			started, done := make(chan struct{}), make(chan error, 1)
			go func() {
				var err error
				close(started)
				interrupted(ctx, g, func() { _, err = mod.ExportedFunction(export).Call(ctx) })
				done <- err
			}()
			<-started
			for i := 0; i < 5; i++ {
				runtime.GC()
			}
			select {
			case err := <-done:
				t.Fatalf("guest returned before it was stopped: %v", err)
			default:
			}
			cancel()
			if err := <-done; err == nil {
				t.Fatal("guest not stopped")
			}
		})
	}
}

// TestNotInstrumentableFallsBack: a module the rewriter cannot instrument
// (here one without code: its handler is a re-exported WASI import) is
// compiled with close-on-context-done and still served.
func TestNotInstrumentableFallsBack(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x05\x01\x60\x00\x01\x7f" + // type: () -> i32
		"\x02\x26\x01\x16wasi_snapshot_preview1\x0bsched_yield\x00\x00" +
		"\x05\x03\x01\x00\x01" + // memory 1
		"\x07\x19\x02\x0cwasgi_handle\x00\x00\x06memory\x02\x00")
	path := t.TempDir() + "/noloop.wasm"
	if err := os.WriteFile(path, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t)
	m, err := rt.Compile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Release(context.Background(), m)
	if m.stop != byClose {
		t.Fatalf("stop = %v, want byClose", m.stop)
	}
	g := rt.NewGroup(testGroup)
	defer g.Close(context.Background())
	p, err := g.NewPool(m, AppConfig{Name: "t/noloop", Logger: zerolog.Nop(), HostLogger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(p, "/"); err != nil {
		t.Fatal(err)
	}
}

// TestInstrumentedCache: a rewritten module is kept in the cache folder
// and used by the next runtime; one that does not compile is dropped, and
// the module still runs (with close-on-context-done).
func TestInstrumentedCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := testwasm.BuildC(t, "examples/c-hello/hello.c", true)
	wasm, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(wasm)
	hash := hex.EncodeToString(sum[:])
	compile := func() *Module {
		rt, err := New(ctx, Options{CacheDir: dir, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rt.Close(ctx) })
		m, err := rt.Compile(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := compile(); m.stop != byInterrupt {
		t.Fatalf("stop = %v", m.stop)
	}
	file := (&Runtime{cacheDir: dir}).instrumentedFile(hash)
	cached, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if m := compile(); m.stop != byInterrupt {
		t.Fatalf("from the cache: stop = %v", m.stop)
	}
	if err := os.WriteFile(file, cached[:len(cached)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if m := compile(); m.stop != byClose {
		t.Fatalf("from a truncated cache file: stop = %v", m.stop)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("bad cache file kept: %v", err)
	}
}
