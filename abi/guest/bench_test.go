package guest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// benchEnv is what the host sends for a plain browser GET.
var benchEnv = []string{
	"REQUEST_METHOD", "GET", "SCRIPT_NAME", "", "PATH_INFO", "/hello/world", "QUERY_STRING", "",
	"REQUEST_URI", "/hello/world", "SERVER_NAME", "bench.test", "SERVER_PORT", "8080",
	"SERVER_PROTOCOL", "HTTP/1.1", "REMOTE_ADDR", "127.0.0.1", "REMOTE_PORT", "40000",
	"wsgi.url_scheme", "http", "WASGI_REQUEST_ID", "0123456789abcdef", "WASGI_SITE", "hello",
	"WASGI_APP", "hello", "WASGI_ABI_VERSION", "1", "HTTP_HOST", "bench.test:8080",
	"HTTP_USER_AGENT", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
	"HTTP_ACCEPT", "text/html,application/xhtml+xml,*/*;q=0.8", "HTTP_ACCEPT_ENCODING", "gzip, deflate",
	"HTTP_ACCEPT_LANGUAGE", "en-US,en;q=0.5", "HTTP_COOKIE", "session=abc; theme=dark",
}

// BenchmarkServeHello is the SDK's own work for one request, natively and
// with a fake host: environ to *http.Request, the examples/hello handler,
// response to start_response and body_write. The wasm guest does the same
// work, slower, and collects its garbage inside its instance.
func BenchmarkServeHello(b *testing.B) {
	f := newFakeHost(benchEnv...)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Hello from wasgi! You asked for %s\n", r.URL.Path)
	})
	b.ReportAllocs()
	for b.Loop() {
		f.writes = f.writes[:0]
		if serve(f, h) != 0 {
			b.Fatal("serve failed")
		}
	}
}

// BenchmarkServeEcho is a 64 KiB POST echoed with io.Copy.
func BenchmarkServeEcho(b *testing.B) {
	body := strings.Repeat("x", 64<<10)
	f := newFakeHost(append([]string{"REQUEST_METHOD", "POST", "CONTENT_LENGTH", "65536", "CONTENT_TYPE", "application/octet-stream"}, benchEnv[2:]...)...)
	f.discard = true
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		io.Copy(w, r.Body)
	})
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		f.body.Reset(body)
		if serve(f, h) != 0 {
			b.Fatal("serve failed")
		}
	}
}

// BenchmarkServeEnviron is a handler that reads the whole environ map.
func BenchmarkServeEnviron(b *testing.B) {
	f := newFakeHost(benchEnv...)
	f.discard = true
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range Environ(r) {
			io.WriteString(w, k)
			io.WriteString(w, v)
		}
	})
	b.ReportAllocs()
	for b.Loop() {
		if serve(f, h) != 0 {
			b.Fatal("serve failed")
		}
	}
}
