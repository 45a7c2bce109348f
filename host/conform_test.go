package host

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wasgi/wasgi/abi/abitest"
	"github.com/wasgi/wasgi/internal/testwasm"
)

// serveApps starts a host with one site "conform.test" mounting each
// module at its mount, with the given abi.
func serveApps(t *testing.T, apps []confApp) *testHost {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "[server]\ncache_dir = \"{cache}\"\naccess_log = \"off\"\n[groups.g]\nrequest_timeout = \"2s\"\n[[site]]\nname = \"conform\"\nhosts = [\"conform.test\"]\n")
	for _, a := range apps {
		name := "app" + strings.ReplaceAll(a.mount, "/", "-")
		fmt.Fprintf(&b, "  [[site.app]]\n  name = %q\n  mount = %q\n  module = %q\n  abi = %q\n  group = \"g\"\n", name, a.mount, a.module, a.abi)
		if a.abi == "wasgi" {
			fmt.Fprintf(&b, "  [[site.location]]\n  url = %q\n  auth = %q\n  require = [\"group staff\"]\n", strings.TrimSuffix(a.mount, "/")+"/info/private/", name)
		}
	}
	return startHost(t, b.String())
}

type confApp struct{ mount, module, abi string }

// TestConformance runs the conformance kit against the same behaviour
// through every door: the Go SDK reactor, a net/http/cgi program, C and
// Rust reactors on the raw ABI, and C and Rust CGI programs.
func TestConformance(t *testing.T) {
	type target struct {
		name  string
		build func(t *testing.T) string
		abi   string
	}
	targets := []target{
		{"go-sdk", func(t *testing.T) string { return testwasm.Build(t, "testdata/conform/sdk") }, "wasgi"},
		{"go-cgi", func(t *testing.T) string { return testwasm.BuildCommand(t, "testdata/conform/cgi") }, "cgi"},
		{"c-reactor", func(t *testing.T) string { return testwasm.BuildC(t, "testdata/conform/c/reactor.c", true) }, "wasgi"},
		{"c-cgi", func(t *testing.T) string { return testwasm.BuildC(t, "testdata/conform/c/cgi.c", false) }, "cgi"},
		{"rust-reactor", func(t *testing.T) string { return testwasm.BuildRust(t, "testdata/conform/rust/reactor.rs", true) }, "wasgi"},
		{"rust-cgi", func(t *testing.T) string { return testwasm.BuildRust(t, "testdata/conform/rust/cgi.rs", false) }, "cgi"},
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			module := tg.build(t)
			for _, mount := range []string{"/", "/app"} {
				th := serveApps(t, []confApp{{mount, module, tg.abi}})
				m := strings.TrimSuffix(mount, "/")
				tg2 := abitest.Target{URL: th.url, Host: "conform.test", Mount: m}
				if tg.abi == "wasgi" {
					tg2.Protected = "/info/private"
				}
				t.Run("mount="+mount, func(t *testing.T) { abitest.Run(t, tg2) })
			}
		})
	}
}

// TestRustExamples serves examples/rust-hello, reactor and CGI, built
// with rustc as its README says.
func TestRustExamples(t *testing.T) {
	reactor := testwasm.BuildRust(t, "examples/rust-hello/hello.rs", true)
	cgi := testwasm.BuildRust(t, "examples/rust-hello/cgi.rs", false)
	th := startHost(t, fmt.Sprintf(`[server]
cache_dir = "{cache}"
access_log = "off"
[[site]]
name = "rust"
hosts = ["conform.test"]
  [[site.app]]
  name = "hello"
  mount = "/"
  module = %q
  [[site.app]]
  name = "cgi"
  mount = "/cgi"
  module = %q
  abi = "cgi"
`, reactor, cgi))
	for path, want := range map[string]string{
		"/hi":     "Hello from Rust! You asked for /hi\n",
		"/cgi/hi": "Hello from Rust CGI! You asked for /cgi/hi\n",
	} {
		req, _ := http.NewRequest("GET", th.url+path, nil)
		req.Host = "conform.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, resp.StatusCode, body, want)
		}
	}
}

func TestCGIEdges(t *testing.T) {
	th := serveApps(t, []confApp{{"/", testwasm.BuildCommand(t, "testdata/cgi-edge"), "cgi"}})
	cases := []struct {
		path   string
		status int
		body   string
		header map[string]string
	}{
		{"/no-status", 200, "plain 200\n", map[string]string{"Content-Type": "text/plain"}},
		{"/status", 201, "created\n", map[string]string{"X-Extra": "yes"}},
		{"/bad-status", 502, "", nil},
		{"/location", 302, "", map[string]string{"Location": "/elsewhere"}},
		{"/no-content-type", 502, "", nil},
		{"/no-colon", 502, "", nil},
		{"/injection", 502, "", nil},
		{"/exit-early", 500, "", nil},
		{"/stderr-only", 502, "", nil},
		{"/no-blank-line", 502, "", nil},
		{"/spin", 504, "", nil},
		{"/nope", 404, "not found\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := th.do(t, "GET", "conform.test", tc.path, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %q", resp.StatusCode, tc.status, body)
			}
			if tc.body != "" && body != tc.body {
				t.Fatalf("body %q, want %q", body, tc.body)
			}
			for k, v := range tc.header {
				if resp.Header.Get(k) != v {
					t.Fatalf("%s = %q, want %q", k, resp.Header.Get(k), v)
				}
			}
		})
	}
	t.Run("stderr logged", func(t *testing.T) {
		th.do(t, "GET", "conform.test", "/stderr-only", nil)
		if !strings.Contains(th.logs.String(), "only stderr from this program") {
			t.Fatal("stderr not logged")
		}
	})

	t.Run("exit after output aborts", func(t *testing.T) {
		resp, err := httpGetHost(th.url+"/exit-after-output", "conform.test")
		if err == nil {
			t.Fatalf("a cut-off CGI response read as complete: %d", resp)
		}
	})

	t.Run("environment, argv, stdin", func(t *testing.T) {
		resp, body := th.do(t, "POST", "conform.test", "/env/x?a=1&b=2", strings.NewReader("the body"))
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		for _, want := range []string{
			"GATEWAY_INTERFACE=CGI/1.1", "SERVER_SOFTWARE=wasgi/", "X_MATCHED_ROUTE=/...", "PATH_INFO=/env/x",
			"QUERY_STRING=a=1&b=2", "REQUEST_METHOD=POST", "CONTENT_LENGTH=8", "SCRIPT_FILENAME=cgi-edge-",
			"X_FULL_URL=http://conform.test/env/x?a=1&b=2", "arg:/env/x\narg:a=1\narg:b=2\n", "stdin:the body",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("lacks %q:\n%s", want, body)
			}
		}
	})
}

// httpGetHost reads a whole response; it returns the status, or the error
// that ended the body.
func httpGetHost(url, host string) (int, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return resp.StatusCode, err
}
