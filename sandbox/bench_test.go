package sandbox

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/internal/testwasm"
)

// BenchmarkPoolServe is one request through a warm pool and the hello
// example: wazero call, ABI imports, the Go SDK and handler.
func BenchmarkPoolServe(b *testing.B) {
	p := benchPool(b, AppConfig{Name: "bench"})
	env, _ := abi.AppendEnviron(nil, "REQUEST_METHOD", "GET")
	env, _ = abi.AppendEnviron(env, "PATH_INFO", "/hello")
	w := &discardWriter{}
	b.ReportAllocs()
	for b.Loop() {
		c := &Call{Environ: env, W: w, Log: zerolog.Nop()}
		if err := p.Serve(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewInstance is creating one instance of the hello example from
// its compiled module (instantiate + _initialize, Go's package init);
// "snapshot" restores the first instance's state instead of running
// _initialize again (AppConfig.Snapshot, so far used for Python apps).
func BenchmarkNewInstance(b *testing.B) {
	for _, snap := range []bool{false, true} {
		name := "init"
		if snap {
			name = "snapshot"
		}
		b.Run(name, func(b *testing.B) {
			p := benchPool(b, AppConfig{Name: "bench", MemoryLimit: 256 << 20, Snapshot: snap})
			first, err := p.newInstance(context.Background()) // takes the snapshot
			if err != nil {
				b.Fatal(err)
			}
			first.close(context.Background())
			b.ReportAllocs()
			for b.Loop() {
				in, err := p.newInstance(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				in.close(context.Background())
			}
		})
	}
}

// benchPool is a pool of the hello example in a group of one instance.
func benchPool(b *testing.B, ac AppConfig) *Pool {
	b.Helper()
	rt, err := New(context.Background(), Options{CacheDir: testwasm.CacheDir(b), Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close(context.Background()) })
	m, err := rt.Compile(context.Background(), testwasm.Build(b, "examples/hello"))
	if err != nil {
		b.Fatal(err)
	}
	g := rt.NewGroup(GroupConfig{Instances: 1, RequestTimeout: time.Minute, QueueTimeout: time.Minute})
	b.Cleanup(func() { g.Close(context.Background()) })
	p, err := g.NewPool(m, ac)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

type discardWriter struct{ h map[string][]string }

func (d *discardWriter) Header() http.Header {
	if d.h == nil {
		d.h = map[string][]string{}
	}
	clear(d.h)
	return d.h
}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
