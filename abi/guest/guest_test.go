package guest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/wasgi/wasgi/abi"
)

// fakeHost records what the SDK sends through the ABI.
type fakeHost struct {
	env      []byte
	body     *strings.Reader
	status   string
	headers  string
	starts   int
	writes   [][]byte
	flushes  int
	startErr int32
	discard  bool // keep no writes (benchmarks)
}

func newFakeHost(kv ...string) *fakeHost {
	var env []byte
	for i := 0; i < len(kv); i += 2 {
		env, _ = abi.AppendEnviron(env, kv[i], kv[i+1])
	}
	return &fakeHost{env: env, body: strings.NewReader("")}
}

func (f *fakeHost) environ() ([]byte, error) { return f.env[:len(f.env):len(f.env)], nil } // no spare room: it is reused
func (f *fakeHost) bodyRead(p []byte) int32 {
	n, _ := f.body.Read(p)
	return int32(n)
}
func (f *fakeHost) startResponse(status string, headers []byte) int32 {
	f.starts++
	if f.startErr != 0 {
		return f.startErr
	}
	f.status, f.headers = status, string(headers)
	return 0
}
func (f *fakeHost) bodyWrite(p []byte) int32 {
	if len(p) == 0 {
		f.flushes++
		return 0
	}
	if !f.discard {
		f.writes = append(f.writes, bytes.Clone(p))
	}
	return int32(len(p))
}
func (f *fakeHost) body_() string { return string(bytes.Join(f.writes, nil)) }

var baseEnv = []string{
	"REQUEST_METHOD", "POST", "SCRIPT_NAME", "/app", "PATH_INFO", "/x y/é", "QUERY_STRING", "a=1&b=%20",
	"REQUEST_URI", "/app/x%20y/%C3%A9?a=1&b=%20", "SERVER_PROTOCOL", "HTTP/1.1", "HTTP_HOST", "example.com",
	"HTTP_X_MULTI_WORD", "v", "CONTENT_TYPE", "text/plain", "CONTENT_LENGTH", "5",
	"REMOTE_ADDR", "::1", "REMOTE_PORT", "4000", "wsgi.url_scheme", "https",
}

func TestRequestFromEnviron(t *testing.T) {
	f := newFakeHost(baseEnv...)
	f.body = strings.NewReader("hello")
	var got *http.Request
	var body string
	code := serve(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	}))
	if code != 0 {
		t.Fatalf("serve = %d", code)
	}
	checks := map[string][2]string{
		"method":      {got.Method, "POST"},
		"path":        {got.URL.Path, "/app/x y/é"},
		"raw path":    {got.URL.EscapedPath(), "/app/x%20y/%C3%A9"},
		"query":       {got.URL.RawQuery, "a=1&b=%20"},
		"host":        {got.Host, "example.com"},
		"header":      {got.Header.Get("X-Multi-Word"), "v"},
		"ctype":       {got.Header.Get("Content-Type"), "text/plain"},
		"remote":      {got.RemoteAddr, "[::1]:4000"},
		"scheme":      {got.URL.Scheme, "https"},
		"body":        {body, "hello"},
		"script name": {ScriptName(got), "/app"},
		"path info":   {PathInfo(got), "/x y/é"},
		"request uri": {got.RequestURI, "/app/x%20y/%C3%A9?a=1&b=%20"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if got.ContentLength != 5 || got.ProtoMajor != 1 || got.ProtoMinor != 1 {
		t.Errorf("ContentLength %d proto %d.%d", got.ContentLength, got.ProtoMajor, got.ProtoMinor)
	}
}

func TestSmallResponseGetsContentLength(t *testing.T) {
	f := newFakeHost(baseEnv...)
	serve(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>hi</html>")
	}))
	if f.status != "200 OK" || f.starts != 1 || f.body_() != "<html>hi</html>" {
		t.Fatalf("status %q starts %d body %q", f.status, f.starts, f.body_())
	}
	for _, h := range []string{"Content-Length: 15\r\n", "Content-Type: text/html; charset=utf-8\r\n"} {
		if !strings.Contains(f.headers, h) {
			t.Errorf("headers %q lack %q", f.headers, h)
		}
	}
}

func TestLargeResponseStreams(t *testing.T) {
	f := newFakeHost(baseEnv...)
	big := strings.Repeat("x", 3*bufSize+10)
	serve(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, big)
	}))
	if f.status != "201 Created" || strings.Contains(f.headers, "Content-Length") || f.body_() != big {
		t.Fatalf("status %q headers %q %d writes", f.status, f.headers, len(f.writes))
	}
}

func TestFlush(t *testing.T) {
	f := newFakeHost(baseEnv...)
	serve(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		if f.starts != 1 || f.body_() != "a" || f.flushes != 1 {
			t.Errorf("after Flush: starts %d body %q flushes %d", f.starts, f.body_(), f.flushes)
		}
		io.WriteString(w, "b")
	}))
	if f.body_() != "ab" {
		t.Fatalf("body %q", f.body_())
	}
}

func TestPanicBeforeResponse(t *testing.T) {
	f := newFakeHost(baseEnv...)
	code := serve(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	if code == 0 || f.starts != 0 {
		t.Fatalf("code %d starts %d: the host must answer 500 itself", code, f.starts)
	}
}

func TestHeaderInjectionSanitised(t *testing.T) {
	f := newFakeHost(baseEnv...)
	serve(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Evil", "a\r\nSet-Cookie: x=1")
		w.WriteHeader(204)
	}))
	if strings.Contains(f.headers, "\r\nSet-Cookie") || f.status != "204 No Content" || strings.Contains(f.headers, "Content-Length") {
		t.Fatalf("status %q headers %q", f.status, f.headers)
	}
}

func TestStartResponseRefused(t *testing.T) {
	f := newFakeHost(baseEnv...)
	f.startErr = abi.ErrInvalidHeader
	code := serve(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") }))
	if code == 0 || len(f.writes) != 0 {
		t.Fatalf("code %d writes %d", code, len(f.writes))
	}
}

func TestStripScriptName(t *testing.T) {
	f := newFakeHost(append(baseEnv[:0:0], "REQUEST_METHOD", "GET", "SCRIPT_NAME", "/app", "PATH_INFO", "", "QUERY_STRING", "q=1")...)
	serve(f, StripScriptName(http.NotFoundHandler()))
	if f.status != "301 Moved Permanently" || !strings.Contains(f.headers, "Location: /app/?q=1\r\n") {
		t.Fatalf("status %q headers %q", f.status, f.headers)
	}
	f = newFakeHost(baseEnv...)
	var path string
	serve(f, StripScriptName(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { path = r.URL.Path })))
	if path != "/x y/é" {
		t.Fatalf("path %q", path)
	}
}

func TestBadEnviron(t *testing.T) {
	f := &fakeHost{env: []byte("garbage"), body: strings.NewReader("")}
	if code := serve(f, http.NotFoundHandler()); code == 0 {
		t.Fatal("malformed environ accepted")
	}
	if code := serve(newFakeHost(baseEnv...), nil); code == 0 {
		t.Fatal("nil handler accepted")
	}
}

func TestHeadWithoutBodyHasNoLength(t *testing.T) {
	f := newFakeHost(append([]string{"REQUEST_METHOD", "HEAD"}, baseEnv[2:]...)...)
	serve(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
	}))
	if strings.Contains(f.headers, "Content-Length") {
		t.Fatalf("HEAD answered %q", f.headers)
	}
}

func TestWriterNotReusedAcrossRequests(t *testing.T) {
	var leaked http.ResponseWriter
	serve(newFakeHost(baseEnv...), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = w
		io.WriteString(w, "first")
	}))
	second := newFakeHost(baseEnv...)
	serve(second, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.WriteString(leaked, "LEAK"); err == nil {
			t.Error("a finished writer accepted a write")
		}
		io.WriteString(w, "second")
	}))
	if second.body_() != "second" {
		t.Fatalf("second response %q", second.body_())
	}
}

func TestRequestURLMatchesNetURL(t *testing.T) {
	for _, tc := range []struct{ script, info, uri, query string }{
		{"", "/hello/world", "/hello/world", ""},
		{"/app", "/a/b", "/app/a/b?x=1", "x=1"},
		{"/app", "", "/app?", ""},
		{"", "/a b", "/a%20b", ""},
		{"", "/a(b)", "/a(b)", ""},
		{"", "/é", "/%C3%A9", ""},
		{"", "/x;y=1,z@a", "/x;y=1,z@a", ""},
	} {
		var got *http.Request
		serve(newFakeHost("REQUEST_METHOD", "GET", "SCRIPT_NAME", tc.script, "PATH_INFO", tc.info,
			"REQUEST_URI", tc.uri, "QUERY_STRING", tc.query),
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r }))
		want, err := url.ParseRequestURI(tc.uri)
		if err != nil {
			t.Fatal(err)
		}
		want.RawQuery = tc.query
		if *got.URL != *want || got.URL.String() != want.String() {
			t.Errorf("%s: URL %#v, want %#v", tc.uri, *got.URL, *want)
		}
	}
}

func TestEnvironAndGetenv(t *testing.T) {
	serve(newFakeHost(append(baseEnv, "HTTP_ACCEPT", "*/*", "HTTP_X_A", "1")...), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Getenv(r, "HTTP_HOST") != "example.com" || Getenv(r, "NOPE") != "" {
			t.Errorf("Getenv before Environ: %q", Getenv(r, "HTTP_HOST"))
		}
		env := Environ(r)
		if len(env) != len(baseEnv)/2+2 || env["REMOTE_PORT"] != "4000" {
			t.Errorf("environ %v", env)
		}
		if reflect.ValueOf(Environ(r)).UnsafePointer() != reflect.ValueOf(env).UnsafePointer() {
			t.Error("environ rebuilt")
		}
		if Getenv(r, "HTTP_X_A") != "1" {
			t.Error("Getenv after Environ")
		}
		// Header values share one array: Add must not spill into a neighbour.
		r.Header.Add("Accept", "text/html")
		if r.Header.Get("X-A") != "1" || len(r.Header["Accept"]) != 2 {
			t.Errorf("headers %v", r.Header)
		}
	}))
	if Environ(httptest.NewRequest("GET", "/", nil)) != nil || Getenv(httptest.NewRequest("GET", "/", nil), "X") != "" {
		t.Error("a request not from the host has an environ")
	}
}

func TestEchoReadFrom(t *testing.T) {
	for _, size := range []int{0, 5, bufSize, 3*bufSize + 7} {
		f := newFakeHost("REQUEST_METHOD", "POST", "CONTENT_LENGTH", strconv.Itoa(size))
		body := strings.Repeat("<p>", size/3) + strings.Repeat("x", size%3)
		f.body = strings.NewReader(body)
		serve(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.Copy(w, r.Body); err != nil {
				t.Error(err)
			}
		}))
		if f.body_() != body {
			t.Fatalf("%d bytes: echoed %d", size, len(f.body_()))
		}
		wantLength := size < bufSize // a full buffer is sent before EOF is known
		if strings.Contains(f.headers, "Content-Length: "+strconv.Itoa(size)+"\r\n") != wantLength {
			t.Errorf("%d bytes: headers %q", size, f.headers)
		}
		if size > 0 && !strings.Contains(f.headers, "Content-Type: text/html; charset=utf-8\r\n") {
			t.Errorf("%d bytes: not sniffed: %q", size, f.headers)
		}
	}
}

// TestJoinHostPort: RemoteAddr written into the environ buffer's spare
// room when it fits, made as usual when not.
func TestJoinHostPort(t *testing.T) {
	for _, tc := range []struct {
		host, port, want string
		spare            int
	}{
		{"127.0.0.1", "40000", "127.0.0.1:40000", 64},
		{"::1", "4000", "[::1]:4000", 64},
		{"127.0.0.1", "40000", "127.0.0.1:40000", 4},
		{"::1", "4000", "[::1]:4000", 0},
	} {
		spare := make([]byte, 0, tc.spare)
		if got := joinHostPort(spare, tc.host, tc.port); got != tc.want {
			t.Errorf("%q %q in %d bytes: %q", tc.host, tc.port, tc.spare, got)
		}
	}
	f := newFakeHost(baseEnv...)
	f.env = append(f.env, make([]byte, 64)...)[:len(f.env)] // spare room after the environ
	var got string
	serve(&spareHost{f}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.RemoteAddr }))
	if got != "[::1]:4000" {
		t.Fatalf("RemoteAddr %q", got)
	}
}

// spareHost hands the environ over with its spare capacity, as the wasm
// transport does.
type spareHost struct{ *fakeHost }

func (s *spareHost) environ() ([]byte, error) { return s.env, nil }
