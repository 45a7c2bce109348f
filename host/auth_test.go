package host

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/internal/testwasm"
	"github.com/wasgi/wasgi/sites"
)

func authSite(t *testing.T, extraServer string) *testHost {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "private"), 0o755)
	os.WriteFile(filepath.Join(root, "private", "secret.txt"), []byte("for members"), 0o644)
	return startHost(t, `
[server]
cache_dir = "{cache}"
access_log = "off"
`+extraServer+`

[groups.auth]
instances = 1
request_timeout = "1s"

[[site]]
name = "secure"
hosts = ["secure.test"]
root = "`+root+`"
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
  group = "auth"
  [[site.alias]]
  url = "/private/"
  path = "private/"
  [[site.directory]]
  path = "private/"
  auth = "main"
  realm = "Members"
  require = ["valid-user"]
  [[site.location]]
  url = "/any/"
  auth = "main"
  realm = "Any user"
  require = ["valid-user"]
  [[site.location]]
  url = "/admin/"
  auth = "main"
  realm = "Staff only"
  require = ["group staff"]
  [[site.location]]
  url = "/bob/"
  auth = "main"
  require = ["user bob"]
  [[site.location]]
  url = "/pass/"
  auth = "main"
  require = ["valid-user"]
  pass_authorization = true
  [[site.location]]
  url = "/passonly/"
  pass_authorization = true
  [[site.location]]
  url = "/local/"
  auth = "main"
  require = ["ip 127.0.0.1", "valid-user"]
`)
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func (th *testHost) authGet(t *testing.T, path, authorization string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", th.url+path, nil)
	req.Host = "secure.test"
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestAuth(t *testing.T) {
	th := authSite(t, "")
	calls := func() string { _, b := th.authGet(t, "/authcalls", ""); return b }

	// Malformed credentials never reach the provider.
	before := calls()
	for _, h := range []string{
		"Basic !!!not-base64!!!",
		"Basic " + base64.StdEncoding.EncodeToString([]byte("no-colon")),
		"Basic " + base64.StdEncoding.EncodeToString([]byte(":empty-user")),
		basic(strings.Repeat("u", 2000), "x"),
		basic("alice", strings.Repeat("p", 5000)),
		basic("ali\x01ce", "right"),
		"Bearer abc",
		"Basic",
	} {
		if resp, _ := th.authGet(t, "/any/env", h); resp.StatusCode != 401 {
			t.Errorf("%.40q: status %d, want 401", h, resp.StatusCode)
		}
	}
	if after := calls(); after != before {
		t.Fatalf("malformed credentials called the provider: %s -> %s", before, after)
	}

	cases := []struct {
		name, path, auth string
		status           int
		realm            string
		env              map[string]string
		absent           []string
	}{
		{"no credentials", "/any/env", "", 401, "Any user", nil, nil},
		{"wrong password", "/any/env", basic("alice", "wrong"), 401, "Any user", nil, nil},
		{"unknown user", "/any/env", basic("mallory", "x"), 401, "Any user", nil, nil},
		{"valid user", "/any/env", basic("alice", "right"), 200, "", map[string]string{"REMOTE_USER": "alice", "AUTH_TYPE": "Basic"}, []string{"HTTP_AUTHORIZATION"}},
		{"UTF-8 user", "/admin/env", basic("élodie", "pässwörd"), 200, "", map[string]string{"REMOTE_USER": "élodie"}, nil},
		{"group member", "/admin/env", basic("alice", "right"), 200, "", map[string]string{"REMOTE_USER": "alice"}, nil},
		{"not in group", "/admin/env", basic("bob", "pw"), 403, "", nil, nil},
		{"group rule, no credentials", "/admin/env", "", 401, "Staff only", nil, nil},
		{"user rule", "/bob/env", basic("bob", "pw"), 200, "", map[string]string{"REMOTE_USER": "bob"}, nil},
		{"user rule, other user", "/bob/env", basic("alice", "right"), 403, "", nil, nil},
		{"default realm is the site", "/bob/env", "", 401, "secure", nil, nil},
		{"pass_authorization", "/pass/env", basic("alice", "right"), 200, "", map[string]string{"HTTP_AUTHORIZATION": basic("alice", "right")}, nil},
		{"location without require decides nothing", "/passonly/env", basic("x", "y"), 200, "", map[string]string{"HTTP_AUTHORIZATION": basic("x", "y")}, []string{"REMOTE_USER"}},
		{"ip admits without credentials", "/local/env", "", 200, "", nil, []string{"REMOTE_USER"}},
		{"unprotected", "/env", basic("alice", "right"), 200, "", nil, []string{"REMOTE_USER", "HTTP_AUTHORIZATION"}},
		{"static, no credentials", "/private/secret.txt", "", 401, "Members", nil, nil},
		{"static, valid user", "/private/secret.txt", basic("bob", "pw"), 200, "", nil, nil},
		{"provider trap fails closed", "/any/env", basic("trap", "x"), 500, "", nil, nil},
		{"provider panic fails closed", "/any/env", basic("panic", "x"), 500, "", nil, nil},
		{"provider timeout fails closed", "/any/env", basic("spin", "x"), 504, "", nil, nil},
		{"works after provider failures", "/any/env", basic("alice", "right"), 200, "", map[string]string{"REMOTE_USER": "alice"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := th.authGet(t, tc.path, tc.auth)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status == 500 && !strings.Contains(th.logs.String(), "wasgi_check_password") {
				t.Fatalf("the provider failure's log does not name the auth export:\n%s", th.logs.String())
			}
			if tc.status == 401 {
				want := `Basic realm="` + tc.realm + `", charset="UTF-8"`
				if got := resp.Header.Get("WWW-Authenticate"); got != want {
					t.Fatalf("WWW-Authenticate %q, want %q", got, want)
				}
			}
			env := environOf(body)
			for k, v := range tc.env {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := env[k]; ok {
					t.Errorf("%s must be absent", k)
				}
			}
			if tc.status != 200 && strings.Contains(body, "for members") {
				t.Fatal("protected file leaked")
			}
		})
	}
}

func TestAuthCache(t *testing.T) {
	th := authSite(t, `auth_cache = "1m"`)
	calls := func() string { _, b := th.authGet(t, "/authcalls", ""); return b }
	if before := calls(); before != "0" {
		t.Fatalf("calls before = %s", before)
	}
	for range 5 {
		if resp, _ := th.authGet(t, "/admin/env", basic("alice", "right")); resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
	}
	// Failures are not cached: each wrong password asks again.
	for range 2 {
		th.authGet(t, "/admin/env", basic("alice", "wrong"))
	}
	if got := calls(); got != "3" {
		t.Fatalf("check_password calls = %s, want 3 (1 cached success, 2 failures)", got)
	}
	// A success cached by a rule without groups still serves a group rule.
	if resp, _ := th.authGet(t, "/any/env", basic("élodie", "pässwörd")); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	if resp, _ := th.authGet(t, "/admin/env", basic("élodie", "pässwörd")); resp.StatusCode != 200 {
		t.Fatalf("group rule after a cached valid-user success: %s", resp.Status)
	}
}

func TestAuthProviderMustExportCheckPassword(t *testing.T) {
	dir := t.TempDir()
	cfg, err := sites.Load(writeConfig(t, dir, strings.ReplaceAll(`
[server]
cache_dir = "{cache}"
[[site]]
name = "s"
hosts = ["s.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "HELLO"
  [[site.location]]
  url = "/admin/"
  auth = "main"
  require = ["valid-user"]
`, "HELLO", testwasm.Build(t, "examples/hello"))))
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(context.Background(), cfg, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "does not export wasgi_check_password") {
		t.Fatalf("err = %v", err)
	}
}

func TestAuthProviderMustBeOfTheSameSite(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	_, err := sites.Parse(filepath.Join(dir, "wasgi.toml"), []byte(`
[[site]]
name = "a"
hosts = ["a.test"]
  [[site.app]]
  name = "users"
  mount = "/"
  module = "app.wasm"
[[site]]
name = "b"
hosts = ["b.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "app.wasm"
  [[site.location]]
  url = "/admin/"
  auth = "users"
  require = ["valid-user"]
`))
	if err == nil || !strings.Contains(err.Error(), "wasgi.toml:") || !strings.Contains(err.Error(), "users") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
}

func FuzzBasicCredentials(f *testing.F) {
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("alice:right")))
	f.Add("Basic !!!")
	f.Add("basic " + base64.StdEncoding.EncodeToString([]byte("a:b:c")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("\x00:x")))
	f.Fuzz(func(t *testing.T, header string) {
		r, _ := http.NewRequest("GET", "http://x/", nil)
		r.Header.Set("Authorization", header)
		user, password, ok := basicCredentials(r)
		if !ok {
			if user != "" || password != "" {
				t.Fatal("refused credentials leaked")
			}
			return
		}
		if user == "" || len(user) > maxUserLen || len(password) > maxPasswordLen || hasCTL(user) || strings.Contains(user, ":") {
			t.Fatalf("accepted %q / %q", user, password)
		}
	})
}

// TestAuthFailureLimit: after auth_max_failures wrong passwords from one
// address, checks from it get 429 with Retry-After and never reach the
// provider, the right password included, until the window ends.
func TestAuthFailureLimit(t *testing.T) {
	th := authSite(t, "auth_max_failures = 3\nauth_failure_window = \"1h\"\nadmin = \"127.0.0.1:0\"")
	calls := func() string { _, b := th.authGet(t, "/authcalls", ""); return b }
	for i := range 3 {
		if resp, _ := th.authGet(t, "/private/secret.txt", basic("alice", "wrong")); resp.StatusCode != 401 {
			t.Fatalf("wrong password %d: %d, want 401", i, resp.StatusCode)
		}
	}
	before := calls()
	for _, pw := range []string{"wrong", "right"} {
		resp, _ := th.authGet(t, "/private/secret.txt", basic("alice", pw))
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("after 3 failures, %q: %d (Retry-After %q), want 429", pw, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if after := calls(); after != before {
		t.Fatalf("a limited check reached the provider: %s -> %s", before, after)
	}
	resp, err := http.Get("http://" + th.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"wasgi_auth_failures_total 3", "wasgi_auth_limited_total 2"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestAuthLimiter: per address and per user name, a success forgives the
// user (not the address), a window ends, 0 turns it off, memory is bounded.
func TestAuthLimiter(t *testing.T) {
	l := newAuthLimiter()
	l.configure(2, time.Minute)
	t0 := time.Now()
	l.fail("10.0.0.1", "s", "bob", t0)
	l.fail("10.0.0.2", "s", "bob", t0) // bob's second failure, from elsewhere
	if b, _ := l.blocked("10.0.0.3", "s", "bob", t0); !b {
		t.Fatal("a user guessed from two addresses is not limited")
	}
	if b, _ := l.blocked("10.0.0.3", "s", "carol", t0); b {
		t.Fatal("another user from a fresh address is limited")
	}
	if b, _ := l.blocked("10.0.0.3", "other-site", "bob", t0); b {
		t.Fatal("the same name on another site is limited")
	}
	l.succeed("s", "bob")
	if b, _ := l.blocked("10.0.0.3", "s", "bob", t0); b {
		t.Fatal("a success did not forgive the user")
	}
	l.fail("10.0.0.9", "s", "x", t0)
	l.fail("10.0.0.9", "s", "y", t0)
	if b, wait := l.blocked("10.0.0.9", "s", "z", t0.Add(10*time.Second)); !b || wait != 50*time.Second {
		t.Fatalf("an address with 2 failures: %v, wait %v; want blocked for the rest of the window", b, wait)
	}
	if b, _ := l.blocked("10.0.0.9", "s", "z", t0.Add(time.Minute)); b {
		t.Fatal("still limited after the window")
	}
	l.configure(0, time.Minute)
	if b, _ := l.blocked("10.0.0.9", "s", "x", t0); b {
		t.Fatal("limited with auth_max_failures = 0")
	}
	l.configure(1000, time.Minute)
	for i := range maxLimiterEntries {
		l.fail(fmt.Sprint(i), "s", "u", t0)
	}
	if n := len(l.entries); n > maxLimiterEntries {
		t.Fatalf("%d entries, bound %d", n, maxLimiterEntries)
	}
}
