package host

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/internal/testwasm"
	"github.com/wasgi/wasgi/sites"
)

// BenchmarkServeHello is one request through the whole host, in process:
// router, environ, pool, the guest's net/http handler, response. Compare
// with BenchmarkNativeHello, the same handler without a sandbox.
func BenchmarkServeHello(b *testing.B) {
	dir := b.TempDir()
	cfgText := strings.NewReplacer("{hello}", testwasm.Build(b, "examples/hello"), "{cache}", testwasm.CacheDir(b)).Replace(`
[server]
cache_dir = "{cache}"
access_log = "off"
[[site]]
name = "hello"
hosts = ["*"]
  [[site.app]]
  name = "hello"
  mount = "/"
  module = "{hello}"
`)
	h := benchHost(b, dir, cfgText)
	req := httptest.NewRequest("GET", "http://bench.test/hello/world", nil)
	cpu := startCPU()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
	cpu.report(b)
}

// BenchmarkServeEnv is bench/run.sh's env case in process: the test
// guest's /env, which lists the environ (guest.Environ) and the WASI
// environment, sorted, for a request with a browser's headers.
func BenchmarkServeEnv(b *testing.B) {
	cfgText := strings.NewReplacer("{guest}", testwasm.Build(b, "testdata/guest"), "{cache}", testwasm.CacheDir(b)).Replace(`
[server]
cache_dir = "{cache}"
access_log = "off"
[[site]]
name = "bench"
hosts = ["*"]
  [[site.app]]
  name = "guest"
  mount = "/g"
  module = "{guest}"
`)
	h := benchHost(b, b.TempDir(), cfgText)
	req := httptest.NewRequest("GET", "http://bench.test/g/env", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	req.Header.Set("Accept-Language", "en-US,en;q=0.5")
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	cpu := startCPU()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
	cpu.report(b)
}

// BenchmarkStaticHit is one 4 KiB file served through an alias, in
// process: router, directory rule, open under the alias's root, response.
func BenchmarkStaticHit(b *testing.B) {
	dir := b.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "static"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "static", "4k.bin"), bytes.Repeat([]byte("x"), 4096), 0o644); err != nil {
		b.Fatal(err)
	}
	h := benchHost(b, dir, `
[server]
access_log = "off"
[[site]]
name = "static"
hosts = ["*"]
  [[site.alias]]
  url = "/static/"
  path = "static/"
  [[site.directory]]
  path = "static/"
  require = ["all granted"]
`)
	req := httptest.NewRequest("GET", "http://bench.test/static/4k.bin", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 || w.Body.Len() != 4096 {
			b.Fatal(w.Code, w.Body.Len())
		}
	}
}

// BenchmarkNativeHello is examples/hello's handler run natively.
func BenchmarkNativeHello(b *testing.B) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Hello from wasgi! You asked for %s\n", r.URL.Path)
	})
	req := httptest.NewRequest("GET", "http://bench.test/hello/world", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		hello.ServeHTTP(w, req)
		io.Discard.Write(w.Body.Bytes())
	}
}

// BenchmarkEnviron is building one request's environ.
func BenchmarkEnviron(b *testing.B) {
	req := httptest.NewRequest("GET", "http://bench.test/mysite/a/b?x=1", nil)
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Cookie", "a=1")
	a := &app{site: "s", name: "a", env: []byte("DJANGO_SETTINGS_MODULE=mysite.settings\x00")}
	q := &request{id: "abc", scriptName: "/mysite", pathInfo: "/a/b", serverPort: "8080"}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = appendEnviron(buf[:0], req, q, a)
	}
}

// BenchmarkRouter1000Sites is the virtual host and route lookup with 1,000
// sites of 3 routes each.
func BenchmarkRouter1000Sites(b *testing.B) {
	v := vhosts{exact: map[string]*site{}}
	for i := range 1000 {
		s := &site{name: fmt.Sprint("s", i), routes: []*route{{prefix: "/static/"}, {prefix: "/mysite"}, {prefix: "/"}}}
		sortRoutes(s.routes)
		v.add(fmt.Sprintf("site%d.example.com", i), s)
		v.add(fmt.Sprintf("*.site%d.example.org", i), s)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s := v.lookup(fmt.Sprintf("site%d.example.com:8080", i%1000))
		if s == nil || s.lookup("/mysite/page") == nil {
			b.Fatal("no route")
		}
	}
}

// BenchmarkDoors is one /info request through each door of the
// conformance kit, in process: the Go SDK reactor, a Go CGI program, a C
// reactor and a C CGI program. Reactors reuse a warm instance; CGI
// creates an instance per request.
func BenchmarkDoors(b *testing.B) {
	goReactor := func(b *testing.B) string { return testwasm.Build(b, "testdata/conform/sdk") }
	cReactor := func(b *testing.B) string { return testwasm.BuildC(b, "testdata/conform/c/reactor.c", true) }
	doors := []struct {
		name  string
		build func(b *testing.B) string
		abi   string
	}{
		{"go-reactor", goReactor, "wasgi"},
		{"go-cgi", func(b *testing.B) string { return testwasm.BuildCommand(b, "testdata/conform/cgi") }, "cgi"},
		{"c-reactor", cReactor, "wasgi"},
		{"c-cgi", func(b *testing.B) string { return testwasm.BuildC(b, "testdata/conform/c/cgi.c", false) }, "cgi"},
	}
	for _, d := range doors {
		b.Run(d.name, func(b *testing.B) {
			cfgText := fmt.Sprintf("[server]\ncache_dir = %q\naccess_log = \"off\"\n[groups.g]\n[[site]]\nname = \"s\"\nhosts = [\"*\"]\n  [[site.app]]\n  name = \"a\"\n  mount = \"/\"\n  module = %q\n  abi = %q\n  group = \"g\"\n",
				testwasm.CacheDir(b), d.build(b), d.abi)
			h := benchHost(b, b.TempDir(), cfgText)
			req := httptest.NewRequest("GET", "http://bench.test/info?x=1", nil)
			cpu := startCPU()
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code, w.Body.String())
				}
			}
			cpu.report(b)
		})
	}
}

// benchHost is a host for in-process benchmarks (no listener), closed at
// the end of the benchmark.
func benchHost(b *testing.B, dir, cfgText string) *Host {
	b.Helper()
	cfg, err := sites.Parse(dir+"/wasgi.toml", []byte(cfgText))
	if err != nil {
		b.Fatal(err)
	}
	h, err := New(context.Background(), cfg, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Shutdown(context.Background()) })
	return h
}
