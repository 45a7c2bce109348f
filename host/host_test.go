package host

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/internal/testwasm"
	"github.com/wasgi/wasgi/sites"
)

// testHost is a real host on 127.0.0.1:0 serving a config written for the
// test, with real guests built by the go command.
type testHost struct {
	*Host
	url  string
	logs *syncBuffer
	dir  string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeConfig writes config text into a temp dir; {guest}, {raw},
// {outbound} and {cache} are replaced by the test guests and the shared
// compile cache.
func writeConfig(t testing.TB, dir, text string) string {
	t.Helper()
	pairs := []string{
		"{guest}", testwasm.Build(t, "testdata/guest"),
		"{raw}", testwasm.Build(t, "testdata/raw"),
		"{cache}", testwasm.CacheDir(t),
	}
	if strings.Contains(text, "{outbound}") { // 25 MB of drivers: only when asked for
		pairs = append(pairs, "{outbound}", testwasm.Build(t, "testdata/outbound"))
	}
	r := strings.NewReplacer(pairs...)
	path := filepath.Join(dir, "wasgi.toml")
	if err := os.WriteFile(path, []byte(r.Replace(text)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func startHost(t testing.TB, config string) *testHost {
	t.Helper()
	dir := t.TempDir()
	cfg, err := sites.Load(writeConfig(t, dir, config))
	if err != nil {
		t.Fatal(err)
	}
	th := startHostConfig(t, cfg)
	th.dir = dir
	return th
}

// startHostConfig starts a host for a loaded config, listening on
// 127.0.0.1:0.
func startHostConfig(t testing.TB, cfg *sites.Config) *testHost {
	t.Helper()
	if len(cfg.Server.Listen) > 0 || len(cfg.Server.ListenTLS) == 0 {
		cfg.Server.Listen = []string{"127.0.0.1:0"}
	}
	if len(cfg.Server.ListenTLS) > 0 {
		cfg.Server.ListenTLS = []string{"127.0.0.1:0"}
	}
	logs := &syncBuffer{}
	h, err := New(context.Background(), cfg, zerolog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Shutdown(ctx)
	})
	return &testHost{Host: h, url: "http://" + h.Addrs()[0].String(), logs: logs}
}

// do sends a request with a Host header and returns status and body.
func (th *testHost) do(t testing.TB, method, host, target string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, th.url+target, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, target, err)
	}
	return resp, string(b)
}

// getStatus GETs target with a Host header and returns the status code; for
// goroutines, where do's t.Fatal may not be called.
func (th *testHost) getStatus(host, target string) (int, error) {
	req, err := http.NewRequest("GET", th.url+target, nil)
	if err != nil {
		return 0, err
	}
	req.Host = host
	resp, err := noRedirects.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// noRedirects shows tests the redirects themselves.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// rawGet sends a request line as is, for paths an http.Client would clean.
func (th *testHost) rawGet(t *testing.T, host, target string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(th.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, host)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func environOf(body string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

const twoSites = `
[server]
cache_dir = "{cache}"
access_log = "off"
max_body = "2MiB"

[groups.shared]
instances = 2
request_timeout = "1s"
queue_timeout = "1s"

[[site]]
name = "alpha"
hosts = ["alpha.test", "*.alpha.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
  group = "shared"
  env = { DJANGO_SETTINGS_MODULE = "alpha.settings", ALPHA_ONLY = "a" }
  [[site.app]]
  name = "sub"
  mount = "/mysite"
  module = "{guest}"
  env = { DJANGO_SETTINGS_MODULE = "alpha.sub.settings" }

[[site]]
name = "beta"
hosts = ["beta.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
  group = "shared"
  env = { DJANGO_SETTINGS_MODULE = "beta.settings", BETA_ONLY = "b" }

[[site]]
name = "raw"
hosts = ["raw.test"]
  [[site.app]]
  name = "raw"
  mount = "/"
  module = "{raw}"
`

func TestSitesSeeOnlyTheirOwnEnv(t *testing.T) {
	th := startHost(t, twoSites)
	cases := []struct {
		host, path, settings, own, foreign string
	}{
		{"alpha.test", "/env", "alpha.settings", "ALPHA_ONLY", "BETA_ONLY"},
		{"beta.test", "/env", "beta.settings", "BETA_ONLY", "ALPHA_ONLY"},
		{"alpha.test", "/mysite/env", "alpha.sub.settings", "", "ALPHA_ONLY"},
	}
	for _, tc := range cases {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			resp, body := th.do(t, "GET", tc.host, tc.path, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			env := environOf(body)
			if env["DJANGO_SETTINGS_MODULE"] != tc.settings || env["os:DJANGO_SETTINGS_MODULE"] != tc.settings {
				t.Fatalf("settings = %q / %q, want %q", env["DJANGO_SETTINGS_MODULE"], env["os:DJANGO_SETTINGS_MODULE"], tc.settings)
			}
			if tc.own != "" && env["os:"+tc.own] == "" {
				t.Fatalf("own env %s missing", tc.own)
			}
			if strings.Contains(body, tc.foreign) {
				t.Fatalf("%s leaked into %s:\n%s", tc.foreign, tc.host, body)
			}
			// Nothing of the host process leaks either.
			if strings.Contains(body, "os:PATH=") || strings.Contains(body, "os:HOME=") {
				t.Fatalf("host environment leaked:\n%s", body)
			}
		})
	}
	// Instances are per app: the same module's memory is not shared.
	for i := 1; i <= 2; i++ {
		if _, got := th.do(t, "GET", "alpha.test", "/counter", nil); got != fmt.Sprint(i) {
			t.Fatalf("alpha counter = %s, want %d", got, i)
		}
	}
	if _, got := th.do(t, "GET", "beta.test", "/counter", nil); got != "1" {
		t.Fatalf("beta counter = %s, want 1: memory shared between sites", got)
	}
}

func TestScriptNameAndPathInfo(t *testing.T) {
	th := startHost(t, twoSites)
	cases := []struct {
		target, script, pathInfo, query string
	}{
		{"/env", "", "/env", ""},
		{"/env/", "", "/env/", ""},
		{"/env/a/b?x=1&y=%20z", "", "/env/a/b", "x=1&y=%20z"},
		{"/mysite/env", "/mysite", "/env", ""},
		{"/mysite/env/deep/er/", "/mysite", "/env/deep/er/", ""},
		{"/mysitex/env", "", "/mysitex/env", ""},
		{"/mysite/env/x%20y", "/mysite", "/env/x y", ""},
		{"/mysite/env/caf%C3%A9/%E6%97%A5%E6%9C%AC", "/mysite", "/env/café/日本", ""},
		{"/mysite/env/café", "/mysite", "/env/café", ""},
		{"/a/../mysite/./env//x", "/mysite", "/env/x", ""},
		{"/mysite/../env", "", "/env", ""},
		{"/%2e%2e/%2e%2e/env", "", "/env", ""},
		{"/env?q=%2F%00&a=b", "", "/env", "q=%2F%00&a=b"},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			status, body := th.rawGet(t, "alpha.test", tc.target)
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			env := environOf(body)
			if env["SCRIPT_NAME"] != tc.script || env["PATH_INFO"] != tc.pathInfo || env["QUERY_STRING"] != tc.query {
				t.Fatalf("SCRIPT_NAME=%q PATH_INFO=%q QUERY_STRING=%q, want %q %q %q",
					env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"], tc.script, tc.pathInfo, tc.query)
			}
			if env["REQUEST_URI"] != tc.target {
				t.Fatalf("REQUEST_URI = %q", env["REQUEST_URI"])
			}
		})
	}
}

// TestBadPaths: an encoded slash anywhere in the path of the raw request
// target, or a NUL, is 400, whatever else the target holds. Each target
// here is sent as is: a byte that Go's URL encoder would escape (a quote,
// raw UTF-8, a brace) made the check read a re-encoded path, in which the
// %2F had already become a separator, and route by it (issue 19, defect 3).
func TestBadPaths(t *testing.T) {
	th := startHost(t, twoSites)
	for _, target := range []string{
		"/env%2Fx",
		"/env/%2f..%2f",
		"/env/%00",
		"/env/a%00b",
		`/env%2Fx"`,
		"/env%2Fx<",
		"/env%2Fx>",
		`/env%2Fx\`,
		"/env%2Fx^",
		"/env%2Fx`",
		"/env%2Fx{",
		"/env%2Fx|",
		"/env%2Fx}",
		"/é/env%2Fx",
		"/\x80/env%2Fx",
		`/env%2f"x`,
		`/mysite%2Fenv"`,
		`/mysite"%2Fenv`,
		"/mysite%2Fenv/日本",
		`/env"/%2F?q=1`,
		`http://alpha.test/env%2Fx"`,
		"/env%2Fx#é",
	} {
		t.Run(target, func(t *testing.T) {
			if status, body := th.rawGet(t, "alpha.test", target); status != http.StatusBadRequest {
				t.Errorf("status %d, want 400 (%.80q)", status, body)
			}
		})
	}
	// A %2F in the query is data, not a path.
	if status, _ := th.rawGet(t, "alpha.test", `/env"?q=%2F`); status != 200 {
		t.Errorf("%%2F in the query: status %d, want 200", status)
	}

	// Under a static alias, the same targets would open a file.
	st := staticSite(t)
	for _, target := range []string{"/static%2F파일.txt", "/static%2Fsub/page.txt{", "/static/sub%2Fpage.txt|", `/static%2Fhello.txt"`} {
		t.Run(target, func(t *testing.T) {
			if status, body := st.rawGet(t, "any.test", target); status != http.StatusBadRequest {
				t.Errorf("status %d, want 400 (%.80q)", status, body)
			}
		})
	}
}

func TestEnvironKeys(t *testing.T) {
	th := startHost(t, twoSites)
	req, _ := http.NewRequest("POST", th.url+"/mysite/env?a=1", strings.NewReader("hello"))
	req.Host = "x.alpha.test:8080"
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("X-Custom", "one")
	req.Header.Add("X-Custom", "two")
	req.Header.Set("X_Forged", "underscore")
	req.Header.Set("Authorization", "Basic c2VjcmV0OnNlY3JldA==")
	req.Header.Set("Proxy", "http://evil")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	env := environOf(string(body))
	want := map[string]string{
		"REQUEST_METHOD":  "POST",
		"SERVER_NAME":     "x.alpha.test",
		"HTTP_HOST":       "x.alpha.test:8080",
		"SERVER_PROTOCOL": "HTTP/1.1",
		"REMOTE_ADDR":     "127.0.0.1",
		"CONTENT_TYPE":    "text/plain",
		"CONTENT_LENGTH":  "5",
		"HTTP_X_CUSTOM":   "one, two",
		"wsgi.url_scheme": "http",
		"WASGI_SITE":      "alpha",
		"WASGI_APP":       "sub",
		"QUERY_STRING":    "a=1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"HTTP_X_FORGED", "HTTP_AUTHORIZATION", "HTTP_PROXY", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s must not be in the environ", k)
		}
	}
	if env["WASGI_REQUEST_ID"] == "" || env["WASGI_REQUEST_ID"] != resp.Header.Get("X-Request-Id") {
		t.Errorf("request id %q vs header %q", env["WASGI_REQUEST_ID"], resp.Header.Get("X-Request-Id"))
	}
}

func TestVirtualHosts(t *testing.T) {
	th := startHost(t, twoSites)
	cases := []struct{ host, site string }{
		{"alpha.test", "alpha"},
		{"ALPHA.test.", "alpha"},
		{"alpha.test:1234", "alpha"},
		{"www.alpha.test", "alpha"},
		{"a.b.alpha.test", "alpha"},
		{"beta.test", "beta"},
	}
	for _, tc := range cases {
		resp, body := th.do(t, "GET", tc.host, "/env", nil)
		if resp.StatusCode != 200 || environOf(body)["WASGI_SITE"] != tc.site {
			t.Errorf("Host %s: status %d site %q, want %s", tc.host, resp.StatusCode, environOf(body)["WASGI_SITE"], tc.site)
		}
	}
	for _, host := range []string{"unknown.test", "alpha.test.evil", "xalpha.test"} {
		if resp, _ := th.do(t, "GET", host, "/env", nil); resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host %s: status %d, want 421", host, resp.StatusCode)
		}
	}
	// With a "*" site, unknown hosts go there.
	def := startHost(t, strings.Replace(twoSites, `hosts = ["beta.test"]`, `hosts = ["beta.test", "*"]`, 1))
	if resp, body := def.do(t, "GET", "unknown.test", "/env", nil); resp.StatusCode != 200 || environOf(body)["WASGI_SITE"] != "beta" {
		t.Fatalf("default site: %d %q", resp.StatusCode, body)
	}
}

func TestLargeBodyStreamsBothWays(t *testing.T) {
	th := startHost(t, twoSites)
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(payload)
		if chunked {
			body = io.MultiReader(body) // hides the length: chunked encoding
		}
		resp, got := th.do(t, "POST", "alpha.test", "/echo", body)
		if resp.StatusCode != 200 || !bytes.Equal([]byte(got), payload) {
			t.Fatalf("chunked=%v: status %d, %d bytes back, equal=%v", chunked, resp.StatusCode, len(got), bytes.Equal([]byte(got), payload))
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	th := startHost(t, twoSites)
	big := bytes.Repeat([]byte("x"), 3<<20)
	if resp, _ := th.do(t, "POST", "alpha.test", "/echo", bytes.NewReader(big)); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("Content-Length over max_body: status %d", resp.StatusCode)
	}
	// Without a length the limit is found while reading: the raw guest
	// has already started its response, so it sees ErrBodyTooLarge.
	_, got := th.do(t, "POST", "raw.test", "/bodyread", io.MultiReader(bytes.NewReader(big)))
	if !strings.Contains(got, "last -7, again -7") {
		t.Fatalf("raw guest saw %q", got)
	}
	if resp, _ := th.do(t, "GET", "alpha.test", "/counter", nil); resp.StatusCode != 200 {
		t.Fatal("host broken after a too large body")
	}
}

func TestStreamingFlush(t *testing.T) {
	th := startHost(t, twoSites)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", th.url+"/stream", pr)
	req.Host = "alpha.test"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	// The guest is now blocked reading our body: this line can only
	// arrive if its Flush reached us before the handler ended.
	line, err := br.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first chunk = %q, %v", line, err)
	}
	io.WriteString(pw, "the body")
	pw.Close()
	rest, _ := io.ReadAll(br)
	if string(rest) != "then the body\n" {
		t.Fatalf("rest = %q", rest)
	}
}

func TestGuestFailures(t *testing.T) {
	th := startHost(t, twoSites)
	cases := []struct {
		host, path string
		status     int
	}{
		{"alpha.test", "/panic", 500},
		{"alpha.test", "/noresponse", 500},
		{"alpha.test", "/exit", 500},
		{"alpha.test", "/spin", 504},
		{"alpha.test", "/abi/environ_read", 500},
		{"alpha.test", "/abi/environ_read_len", 500},
		{"alpha.test", "/abi/body_read", 500},
		{"alpha.test", "/abi/start_response_status", 500},
		{"alpha.test", "/abi/start_response_headers", 500},
		{"alpha.test", "/abi/body_write", 500},
		{"alpha.test", "/abi/log", 500},
		{"alpha.test", "/abi/auth_user", 500},
		{"raw.test", "/nothing", 500},
		{"raw.test", "/fail", 500},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := th.do(t, "GET", tc.host, tc.path, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			// The host and the other site are untouched, and the app works.
			if resp, _ := th.do(t, "GET", "beta.test", "/counter", nil); resp.StatusCode != 200 {
				t.Fatalf("beta broken: %d", resp.StatusCode)
			}
			if resp, body := th.do(t, "GET", tc.host, "/env", nil); tc.host == "alpha.test" && resp.StatusCode != 200 {
				t.Fatalf("next request: %d %s", resp.StatusCode, body)
			}
		})
	}
	logs := th.logs.String()
	if !strings.Contains(logs, "boom") || !strings.Contains(logs, `"site":"alpha"`) {
		t.Fatalf("trap not logged with its stderr and site:\n%s", logs)
	}
}

func TestFailureAfterHeadersAbortsConnection(t *testing.T) {
	th := startHost(t, twoSites)
	req, _ := http.NewRequest("GET", th.url+"/midpanic", nil)
	req.Host = "alpha.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("a cut-off body read as complete")
	}
}

func TestRawGuestCodes(t *testing.T) {
	th := startHost(t, twoSites)
	resp, body := th.do(t, "GET", "raw.test", "/codes", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		"body_write_before_start=-3", "auth_user=-1", "bad_status=-4", "status_1xx=-4", "status_ctl=-4",
		"injection=-5", "lf_injection=-5", "bad_name=-5", "bad_length=-5", "many_headers=-5",
		"environ_small=true", "first=0", "second=-2",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, body)
		}
	}
	if resp.Header.Get("X-Kept") != "yes" || resp.Header.Get("Connection") == "close" || resp.Close {
		t.Errorf("headers: %v (close=%v)", resp.Header, resp.Close)
	}
}

func TestGuestLogs(t *testing.T) {
	th := startHost(t, twoSites)
	if resp, _ := th.do(t, "GET", "beta.test", "/log", nil); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	logs := th.logs.String()
	for _, want := range []string{`"source":"guest"`, `hello from the guest log`, `"source":"stderr"`, `hello from stderr`, `"site":"beta"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

func TestReload(t *testing.T) {
	th := startHost(t, twoSites)
	if _, body := th.do(t, "GET", "beta.test", "/env", nil); environOf(body)["DJANGO_SETTINGS_MODULE"] != "beta.settings" {
		t.Fatal(body)
	}
	cfg, err := sites.Load(writeConfig(t, th.dir, strings.Replace(twoSites, `"beta.settings"`, `"beta.v2"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, body := th.do(t, "GET", "beta.test", "/env", nil); environOf(body)["DJANGO_SETTINGS_MODULE"] != "beta.v2" {
		t.Fatalf("after reload: %s", body)
	}
}

// TestRequestIDs pins the made-up ids' format: the prefix, a dash and
// the counter in at least 8 hex digits.
func TestRequestIDs(t *testing.T) {
	g := &requestIDs{prefix: "7c2bc0850e87"}
	for _, tc := range []struct {
		n    uint64
		want string
	}{{0, "7c2bc0850e87-00000001"}, {0xfe, "7c2bc0850e87-000000ff"}, {0xfffffffe, "7c2bc0850e87-ffffffff"}, {0xffffffff, "7c2bc0850e87-100000000"}} {
		g.n.Store(tc.n)
		if got := g.next(); got != tc.want {
			t.Errorf("after %#x: %q, want %q", tc.n, got, tc.want)
		}
	}
}
