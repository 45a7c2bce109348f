package host

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/internal/testtree"
	"github.com/wasgi/wasgi/internal/testwasm"
	"github.com/wasgi/wasgi/sites"
)

// examplesCopy returns the folder examples/rel (examples/ when rel is "")
// of a temporary copy of the tree, for a test to serve: uploads and
// databases land in the copy, and what a user's run of the examples left
// in the source tree never reaches it. To prove the latter on every run,
// the copy is made (testtree.Copy) from a copy of examples/ in which
// testtree.Plant has left that state, the documented upload of 파일.txt
// among it: a test that found any of it would fail.
func examplesCopy(t *testing.T, rel string) string {
	t.Helper()
	used := testtree.Copy(t, testwasm.Root(t), "examples")
	testtree.Plant(t, used)
	return filepath.Join(testtree.Copy(t, used, path.Join("examples", rel)), "examples", filepath.FromSlash(rel))
}

// TestExamples serves examples/wasgi.toml, as `go run ./examples/run`
// does, with the example apps built by this test run, and checks what the
// examples' READMEs promise.
func TestExamples(t *testing.T) {
	dir := examplesCopy(t, "")
	os.MkdirAll(filepath.Join(dir, "build"), 0o755)
	for pkg, out := range map[string]string{
		"examples/hello":           "hello.wasm",
		"examples/two-sites/app":   "two-sites.wasm",
		"examples/subpath":         "subpath.wasm",
		"examples/django-like/app": "django-like.wasm",
		"examples/auth/app":        "auth.wasm",
	} {
		b, err := os.ReadFile(testwasm.Build(t, pkg))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "build", out), b, 0o644)
	}
	cfg, err := sites.Load(filepath.Join(dir, "wasgi.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Listen = []string{"127.0.0.1:0"}
	cfg.Server.CacheDir = testwasm.CacheDir(t)
	cfg.Server.AccessLog = "off"
	h, err := New(context.Background(), cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Listen(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Shutdown(ctx)
	}()
	th := &testHost{Host: h, url: "http://" + h.Addrs()[0].String()}

	cases := []struct {
		host, path string
		status     int
		want, not  []string
	}{
		{"hello.localhost", "/any/path", 200, []string{"Hello from wasgi! You asked for /any/path"}, nil},
		{"anything.example", "/", 200, []string{"Hello from wasgi!"}, nil},
		{"alpha.localhost", "/", 200, []string{"DJANGO_SETTINGS_MODULE: alpha.settings", "alpha-notes.txt", "ALPHA_SECRET"}, []string{"beta", "BETA"}},
		{"beta.localhost", "/", 200, []string{"DJANGO_SETTINGS_MODULE: beta.settings", "beta-notes.txt", "BETA_SECRET"}, []string{"alpha", "ALPHA"}},
		{"mysite.localhost", "/mysite/", 200, []string{`href="/mysite/about/"`, `href="/mysite/items/42"`}, nil},
		{"mysite.localhost", "/mysite/items/42", 200, []string{`SCRIPT_NAME="/mysite" PATH_INFO="/items/42"`}, nil},
		{"mysite.localhost", "/", 200, []string{"Hello from wasgi! You asked for /"}, nil},
		{"django.localhost", "/", 200, []string{"mysite.settings", "/static/css/site.css"}, nil},
		{"django.localhost", "/static/css/site.css", 200, []string{"font-family"}, nil},
		{"django.localhost", "/static/admin/css/base.css", 200, []string{".admin"}, nil},
		{"django.localhost", "/robots.txt", 200, []string{"Disallow: /admin/"}, nil},
		{"django.localhost", "/favicon.ico", 200, nil, nil},
		{"django.localhost", "/admin/", 200, []string{"admin"}, nil},
		{"django.localhost", "/static/", 403, nil, nil},
		{"auth.localhost", "/", 200, []string{"Public page"}, nil},
		{"auth.localhost", "/admin/", 401, nil, nil},
		{"auth.localhost", "/private/report.txt", 401, nil, []string{"Quarterly"}},
	}
	for _, tc := range cases {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			resp, body := th.do(t, "GET", tc.host, tc.path, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("body has %q:\n%s", n, body)
				}
			}
		})
	}

	// The auth example: its own user database decides.
	authCases := []struct {
		path, user, password string
		status               int
		want                 string
	}{
		{"/admin/", "alice", "wonderland", 200, "Hello alice (AUTH_TYPE Basic). The app saw your password: false."},
		{"/admin/", "bob", "builder", 403, ""},
		{"/admin/", "alice", "wrong", 401, ""},
		{"/admin/", "mallory", "x", 401, ""},
		{"/private/report.txt", "bob", "builder", 200, "Quarterly report"},
	}
	for _, tc := range authCases {
		req, _ := http.NewRequest("GET", th.url+tc.path, nil)
		req.Host = "auth.localhost"
		req.SetBasicAuth(tc.user, tc.password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s as %s: %d %q, want %d %q", tc.path, tc.user, resp.StatusCode, b, tc.status, tc.want)
		}
	}

	// Upload with a UTF-8 name through the app; the /media/ alias serves it.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "파일 résumé.txt")
	io.WriteString(fw, "uploaded through the sandbox")
	mw.Close()
	req, _ := http.NewRequest("POST", th.url+"/upload", &form)
	req.Host = "django.localhost"
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := rawTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	if _, body := th.do(t, "GET", "django.localhost", "/", nil); !strings.Contains(body, "파일 résumé.txt") {
		t.Fatalf("upload not listed:\n%s", body)
	}
	if resp, body := th.do(t, "GET", "django.localhost", "/media/%ED%8C%8C%EC%9D%BC%20r%C3%A9sum%C3%A9.txt", nil); resp.StatusCode != 200 || body != "uploaded through the sandbox" {
		t.Fatalf("media: %d %q", resp.StatusCode, body)
	}
}
