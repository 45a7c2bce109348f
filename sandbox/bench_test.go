package sandbox

import (
	"cmp"
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
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
		c := &Call{Environ: env, W: HTTPResponse(w), Log: zerolog.Nop()}
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

// BenchmarkWarmInstances creates instances of the hello example and keeps
// them, each warmed by 20 requests, as a pool with min_instances does: the
// time of one (creation and its requests) and the RSS it adds (Linux).
func BenchmarkWarmInstances(b *testing.B) {
	p := benchPool(b, AppConfig{Name: "bench", MemoryLimit: 256 << 20})
	env, _ := abi.AppendEnviron(nil, "REQUEST_METHOD", "GET")
	env, _ = abi.AppendEnviron(env, "PATH_INFO", "/hello")
	var ins []*instance
	b.Cleanup(func() {
		for _, in := range ins {
			in.close(context.Background())
		}
	})
	before := rssKiB()
	b.ReportAllocs()
	for b.Loop() {
		in, err := p.newInstance(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for range 20 {
			c := &Call{Environ: env, W: HTTPResponse(&discardWriter{}), Log: zerolog.Nop(), phase: phaseHandle}
			if _, err := p.run(context.Background(), in, phaseHandle, c, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
		ins = append(ins, in)
	}
	if before > 0 {
		b.ReportMetric(float64(rssKiB()-before)/float64(b.N), "RSS-KiB/instance")
	}
}

// rssKiB is the process's resident set, or 0 where /proc is not.
func rssKiB() int {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	return 0
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

// BenchmarkGuestAB serves one request alternately from two builds of a
// guest, the modules WASGI_AB_A and WASGI_AB_B (paths), in batches of 500
// calls on one warm instance each, and reports each build's best and mean
// batch, per call: on a machine shared with other work, the best batches
// of two builds measured in the same seconds are what compare. The
// request is wrk's GET of WASGI_AB_PATH (default /hello): a Host header
// and nothing else. Skipped unless both modules are named.
//
//	WASGI_AB_A=old/hello.wasm WASGI_AB_B=new/hello.wasm go test -run=NONE -bench=GuestAB -benchtime=40x ./sandbox/
func BenchmarkGuestAB(b *testing.B) {
	paths := []string{os.Getenv("WASGI_AB_A"), os.Getenv("WASGI_AB_B")}
	if paths[0] == "" || paths[1] == "" {
		b.Skip("WASGI_AB_A and WASGI_AB_B name the two builds to compare")
	}
	path := cmp.Or(os.Getenv("WASGI_AB_PATH"), "/hello")
	ctx := context.Background()
	rt, err := New(ctx, Options{Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	g := rt.NewGroup(GroupConfig{Instances: 2, MinInstances: 1, RequestTimeout: time.Minute, QueueTimeout: time.Minute})
	defer g.Close(ctx)
	var env []byte
	for _, kv := range [][2]string{
		{"REQUEST_METHOD", "GET"}, {"SCRIPT_NAME", ""}, {"PATH_INFO", path}, {"QUERY_STRING", ""},
		{"REQUEST_URI", path}, {"SERVER_NAME", "127.0.0.1"}, {"SERVER_PORT", "8090"},
		{"SERVER_PROTOCOL", "HTTP/1.1"}, {"REMOTE_ADDR", "127.0.0.1"}, {"REMOTE_PORT", "40000"},
		{"wsgi.url_scheme", "http"}, {"WASGI_REQUEST_ID", "7c2bc0850e87-00000002"}, {"WASGI_SITE", "bench"},
		{"WASGI_APP", "ab"}, {"WASGI_ABI", abi.Version}, {"HTTP_HOST", "127.0.0.1:8090"},
	} {
		env, _ = abi.AppendEnviron(env, kv[0], kv[1])
	}
	type build struct {
		p         *Pool
		best, sum time.Duration
	}
	var builds []*build
	for _, path := range paths {
		m, err := rt.Compile(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		p, err := g.NewPool(m, AppConfig{Name: "ab"})
		if err != nil {
			b.Fatal(err)
		}
		builds = append(builds, &build{p: p, best: time.Hour})
	}
	const batch = 500
	w := &discardWriter{}
	rounds := 0
	for b.Loop() {
		rounds++
		for _, bd := range builds {
			start := time.Now()
			for range batch {
				if err := bd.p.Serve(ctx, &Call{Environ: env, W: HTTPResponse(w), Log: zerolog.Nop()}); err != nil {
					b.Fatal(err)
				}
			}
			d := time.Since(start)
			bd.sum += d
			bd.best = min(bd.best, d)
		}
	}
	for i, bd := range builds {
		name := string(rune('A' + i))
		b.ReportMetric(float64(bd.best.Nanoseconds())/batch, name+"-best-ns/call")
		b.ReportMetric(float64(bd.sum.Nanoseconds())/batch/float64(rounds), name+"-mean-ns/call")
	}
}
