package host

import (
	"bytes"
	"context"
	"crypto/md5"
	stdpbkdf2 "crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/wasgi/wasgi/internal/setup"
	"github.com/wasgi/wasgi/internal/testwasm"
	"github.com/wasgi/wasgi/runtimes/python"
	"github.com/wasgi/wasgi/sandbox"
	"github.com/wasgi/wasgi/sites"
)

// The Python tests need the Python runtime (runtimes/python/build.sh),
// Django 5.2 (runtimes/python/packages.sh) for some, and Debian's
// pure-Python packages for others. They never build, fetch or install any
// of it: `go run ./examples/run setup` does, and a test that lacks one
// skips naming that command (fails under WASGI_REQUIRE_SERVICES=1 or CI,
// where .ci/run has run it).

// pythonRuntime returns the Python runtime's folder, or skips the test
// with the one message of testwasm.PythonRuntime.
func pythonRuntime(t testing.TB) string {
	t.Helper()
	return testwasm.PythonRuntime(t)
}

// djangoPackages returns a dist-packages folder with Django 5.2 LTS and its
// dependencies from Debian sid, which `go run ./examples/run setup` fetches
// with runtimes/python/packages.sh into the user's cache (outside the
// source tree), or skips the test when it has not.
func djangoPackages(t testing.TB) string {
	t.Helper()
	setup.Observe() // packages.sh rewrites the stamp: a cached skip reruns
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(cache, "wasgi", "python-packages")
	if b, _ := os.ReadFile(filepath.Join(out, "recipe")); strings.TrimSpace(string(b)) != "2" {
		testwasm.Missing(t, fmt.Sprintf("Django 5.2 from Debian sid is not fetched into %s: %s fetches it (runtimes/python/packages.sh, installing nothing)", out, setup.Command))
	}
	return filepath.Join(out, "dist-packages")
}

// debianPython skips unless Debian's pure-Python packages are installed
// (`go run ./examples/run setup` installs python3-django, python3-flask,
// python3-pymysql and python3-redis), naming all that are missing, or
// fails where they are required.
func debianPython(t testing.TB, pkgs ...string) {
	t.Helper()
	var missing []string
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join("/usr/lib/python3/dist-packages", p)); err != nil {
			missing = append(missing, "python3-"+p)
		}
	}
	if len(missing) > 0 {
		testwasm.Missing(t, fmt.Sprintf("Debian's %s not installed: apt-get install %s (or run %s)",
			strings.Join(missing, " and "), strings.Join(missing, " "), setup.Command))
	}
}

const pythonConfig = `
[server]
cache_dir = "{cache}"
access_log = "off"
[groups.fresh]
max_requests = 1
[[site]]
name = "py"
hosts = ["py.test"]
root = "{root}"
  [[site.app]]
  name = "main"
  mount = "/"
  runtime = "python"
  wsgi = "wsgiapp"
  python_path = ["testdata/python/app"]
  python_home = "{home}"
  env = { SECRET = "py-only" }
  check_password = "wsgiapp:check_password"
  groups_for_user = "wsgiapp:groups_for_user"
  [[site.app]]
  name = "fresh"
  mount = "/fresh"
  group = "fresh"
  runtime = "python"
  wsgi = "wsgiapp:application"
  python_path = ["testdata/python/app"]
  [[site.location]]
  url = "/private/"
  auth = "main"
  realm = "py"
  require = ["group staff"]
[[site]]
name = "other"
hosts = ["other.test"]
root = "{root}"
  [[site.app]]
  name = "main"
  mount = "/"
  runtime = "python"
  wsgi = "wsgiapp:application"
  python_path = ["testdata/python/app"]
`

// pythonConfigFor fills in pythonConfig, with a python_home made for it.
func pythonConfigFor(tb testing.TB) string {
	home := filepath.Join(tb.TempDir(), "venv")
	sp := filepath.Join(home, "lib", "python3.11", "site-packages")
	os.MkdirAll(sp, 0o755)
	os.WriteFile(filepath.Join(sp, "greet.py"), []byte("def hello():\n    return 'hello from site-packages'\n"), 0o644)
	return strings.NewReplacer("{root}", testwasm.Root(tb), "{home}", home, "{cache}", testwasm.CacheDir(tb)).Replace(pythonConfig)
}

func startPython(t *testing.T) *testHost {
	t.Helper()
	pythonRuntime(t)
	return startHost(t, pythonConfigFor(t))
}

func getJSON(t *testing.T, th *testHost, host, target string, v any) {
	t.Helper()
	resp, body := th.do(t, "GET", host, target, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %q", target, resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %q", target, err, body)
	}
}

func TestPythonWSGI(t *testing.T) {
	th := startPython(t)

	t.Run("environ keys and types", func(t *testing.T) {
		var env map[string]any
		getJSON(t, th, "py.test", "/types?q=1", &env)
		want := map[string]any{
			"REQUEST_METHOD": "str", "SCRIPT_NAME": "str", "PATH_INFO": "str", "QUERY_STRING": "str",
			"SERVER_NAME": "str", "SERVER_PORT": "str", "SERVER_PROTOCOL": "str", "HTTP_HOST": "str",
			"wsgi.version": []any{1.0, 0.0}, "wsgi.input": "BufferedReader", "wsgi.errors": "_LogStream",
			"wsgi.multithread": "bool", "value wsgi.multithread": false,
			"value wsgi.multiprocess": true, "value wsgi.run_once": false, "value wsgi.url_scheme": "http",
			"has input.read": true, "SECRET": "str",
		}
		for k, v := range want {
			if got, ok := env[k]; !ok || !equalJSON(got, v) {
				t.Errorf("environ[%q] = %v, want %v", k, got, v)
			}
		}
		if strings.Contains(th.logs.String(), "a line for wsgi.errors") == false {
			t.Error("wsgi.errors did not reach the host log")
		}
	})

	t.Run("streaming input and output", func(t *testing.T) {
		body := make([]byte, 3<<20+17)
		rand.Read(body)
		resp, got := th.do(t, "POST", "py.test", "/echo", bytes.NewReader(body))
		if resp.StatusCode != 200 || got != string(body) {
			t.Fatalf("echo: %d, %d bytes back of %d", resp.StatusCode, len(got), len(body))
		}
		if resp.ContentLength != -1 {
			t.Errorf("a generator's response has Content-Length %d, want a streamed body", resp.ContentLength)
		}
		var lines map[string]any
		resp, out := th.do(t, "POST", "py.test", "/lines", strings.NewReader("first line\nsecond\nthird\n"))
		json.Unmarshal([]byte(out), &lines)
		if resp.StatusCode != 200 || lines["first"] != "first line\n" || lines["rest"] != 13.0 {
			t.Errorf("readline: %d %q", resp.StatusCode, out)
		}
		if resp, out := th.do(t, "GET", "py.test", "/write", nil); out != "written and returned\n" {
			t.Errorf("write callable: %d %q", resp.StatusCode, out)
		}
	})

	t.Run("deep stacks within the stack budget", func(t *testing.T) {
		var out map[string]any
		getJSON(t, th, "py.test", "/deep", &out)
		if out["RecursionError"] != true || out["python"] == nil || out["json"] == nil || out["repr"] == nil {
			t.Errorf("/deep: %v", out)
		}
	})

	t.Run("UTF-8 path", func(t *testing.T) {
		if resp, out := th.do(t, "GET", "py.test", "/caf%C3%A9/%ED%8C%8C%EC%9D%BC", nil); out != "path=/café/파일\n" {
			t.Errorf("%d %q", resp.StatusCode, out)
		}
	})

	t.Run("response headers", func(t *testing.T) {
		resp, out := th.do(t, "GET", "py.test", "/headers", nil)
		if resp.StatusCode != 200 || out != "with my own length" || resp.Header.Get("X-Kind") != "named" ||
			resp.ContentLength != int64(len(out)) || len(resp.Header.Values("Content-Length")) != 1 || resp.Header.Get("X-Latin") != "\xe9t\xe9" {
			t.Errorf("%d %q %v", resp.StatusCode, out, resp.Header)
		}
		resp, out = th.do(t, "GET", "py.test", "/badheader", nil)
		if resp.StatusCode != 500 || strings.Contains(out, "never sent") || !strings.Contains(th.logs.String(), "must be latin-1 str") {
			t.Errorf("a header that is not latin-1: %d %q\n%s", resp.StatusCode, out, th.logs.String())
		}
	})

	t.Run("exception is a 500, traceback in the log only", func(t *testing.T) {
		resp, out := th.do(t, "GET", "py.test", "/boom", nil)
		if resp.StatusCode != 500 || strings.Contains(out, "secret") || strings.Contains(out, "Traceback") {
			t.Errorf("%d %q", resp.StatusCode, out)
		}
		logs := th.logs.String()
		if !strings.Contains(logs, "Traceback") || !strings.Contains(logs, "boom with a secret") || !strings.Contains(logs, "wsgiapp.py") {
			t.Errorf("traceback not in the host log:\n%s", logs)
		}
		if resp, _ := th.do(t, "GET", "py.test", "/still-up", nil); resp.StatusCode != 200 {
			t.Errorf("after the exception: %d", resp.StatusCode)
		}
	})

	t.Run("python_home and env stay per site", func(t *testing.T) {
		var home struct{ Greet string }
		getJSON(t, th, "py.test", "/home", &home)
		if home.Greet != "hello from site-packages" {
			t.Errorf("python_home: %+v", home)
		}
		var env map[string]any
		getJSON(t, th, "py.test", "/env", &env)
		getJSON(t, th, "other.test", "/env", &env)
		if env["SECRET"] != nil {
			t.Errorf("site other sees the env of site py: %v", env)
		}
		if resp, _ := th.do(t, "GET", "other.test", "/home", nil); resp.StatusCode != 500 {
			t.Errorf("site other imported python_home of site py: %d", resp.StatusCode)
		}
	})

	t.Run("snapshot: instances share the start, not the random state", func(t *testing.T) {
		var a, b, c struct {
			Token  string
			Random float64
		}
		// max_requests = 1: every request gets a new instance.
		getJSON(t, th, "py.test", "/fresh/state", &a)
		getJSON(t, th, "py.test", "/fresh/state", &b)
		getJSON(t, th, "py.test", "/fresh/state", &c)
		if a.Token == "" || a.Token != b.Token || b.Token != c.Token {
			t.Errorf("import tokens %q %q %q: instances did not start from one snapshot", a.Token, b.Token, c.Token)
		}
		if a.Random == b.Random || b.Random == c.Random {
			t.Errorf("random.random() repeats across instances: %v %v %v", a.Random, b.Random, c.Random)
		}
	})

	t.Run("auth by check_password and groups_for_user", func(t *testing.T) {
		for _, c := range []struct {
			user, pass string
			want       int
		}{
			{"", "", 401}, {"alice", "right", 200}, {"alice", "wrong", 401}, {"nobody", "x", 401},
			{"bob", "pw", 403}, {"élodie", "ça", 200}, {"trap", "x", 500},
		} {
			req, _ := http.NewRequest("GET", th.url+"/private/x", nil)
			req.Host = "py.test"
			if c.user != "" {
				req.SetBasicAuth(c.user, c.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("%s:%s: %d, want %d", c.user, c.pass, resp.StatusCode, c.want)
			}
		}
	})
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestPythonExamples serves examples/python/wasgi.toml: Flask, and two
// Django sites of one project with different DJANGO_SETTINGS_MODULE, the
// admin's collected static files and a UTF-8 upload through /media/, from
// a copy of a tree in which the documented upload of 파일.txt and the rest of
// a user's run are left behind (examplesCopy).
func TestPythonExamples(t *testing.T) {
	if raceEnabled {
		t.Skip("three interpreters starting under the race detector: covered by the normal run")
	}
	pythonRuntime(t)
	debianPython(t, "django", "flask")
	dir := examplesCopy(t, "python")
	collect := exec.Command("/usr/bin/python3", "manage.py", "collectstatic", "--noinput")
	collect.Dir = filepath.Join(dir, "django")
	if out, err := collect.CombinedOutput(); err != nil {
		t.Fatalf("collectstatic: %v\n%s", err, out)
	}
	text, err := os.ReadFile(filepath.Join(dir, "wasgi.toml"))
	if err != nil {
		t.Fatal(err)
	}
	config := strings.Replace(string(text), `cache_dir = "../build/cache"`, `cache_dir = "{cache}"`+"\naccess_log = \"off\"", 1)
	config = strings.ReplaceAll(config, `"django`, `"`+filepath.Join(dir, "django"))
	config = strings.ReplaceAll(config, `["flask"`, `["`+filepath.Join(dir, "flask")+`"`)
	board := filepath.Join(dir, "board")
	os.MkdirAll(filepath.Join(board, "static"), 0o755) // its own test (TestDjangoBoard) collects them
	config = strings.NewReplacer(`["board",`, `[`+strconv.Quote(board)+`,`, `host = "board"`, `host = `+strconv.Quote(board),
		`path = "board/`, `path = "`+board+`/`).Replace(config)
	config = strings.ReplaceAll(config, `"../build/python-packages/dist-packages"`, strconv.Quote(djangoPackages(t)))
	th := startHost(t, config)

	if resp, out := th.do(t, "GET", "flask.localhost", "/", nil); resp.StatusCode != 200 || !strings.Contains(out, "Flask") {
		t.Errorf("flask: %d %q", resp.StatusCode, out)
	}
	if resp, out := th.do(t, "GET", "flask.localhost", "/count/5000", nil); resp.StatusCode != 200 || strings.Count(out, "\n") != 5000 {
		t.Errorf("flask stream: %d, %d lines", resp.StatusCode, strings.Count(out, "\n"))
	}
	body := bytes.Repeat([]byte("wasgi "), 200_000)
	if resp, out := th.do(t, "POST", "flask.localhost", "/echo", bytes.NewReader(body)); resp.StatusCode != 200 || out != string(body) {
		t.Errorf("flask echo: %d, %d bytes", resp.StatusCode, len(out))
	}

	// Alternate between the two Django sites: each keeps its own settings.
	for i := range 10 {
		for host, title := range map[string]string{"alpha.localhost": "Alpha", "beta.localhost": "Beta"} {
			resp, out := th.do(t, "GET", host, "/", nil)
			if resp.StatusCode != 200 || !strings.Contains(out, ": "+title+" (DJANGO_SETTINGS_MODULE=mysite.settings_"+strings.ToLower(title)+")") {
				t.Fatalf("round %d %s: %d %q", i, host, resp.StatusCode, out)
			}
		}
	}

	css, err := os.ReadFile(filepath.Join(dir, "django", "static", "admin", "css", "base.css"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, out := th.do(t, "GET", "beta.localhost", "/static/admin/css/base.css", nil); resp.StatusCode != 200 || out != string(css) {
		t.Errorf("admin static file: %d, %d bytes", resp.StatusCode, len(out))
	}

	// The mod_wsgi guide's UnicodeEncodeError case: a non-ASCII upload name.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "파일.txt")
	fw.Write([]byte("한국어 내용\n"))
	mw.Close()
	req, _ := http.NewRequest("POST", th.url+"/upload/", &form)
	req.Host = "alpha.localhost"
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	up, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(up), `"size": 17`) {
		t.Fatalf("upload: %d %q", resp.StatusCode, up)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "django", "media", "파일.txt")); err != nil || string(b) != "한국어 내용\n" {
		t.Errorf("uploaded file on disk: %q, %v", b, err)
	}
	if resp, out := th.do(t, "GET", "alpha.localhost", "/media/%ED%8C%8C%EC%9D%BC.txt", nil); resp.StatusCode != 200 || out != "한국어 내용\n" {
		t.Errorf("served back by /media/: %d %q", resp.StatusCode, out)
	}

	if resp, out := th.do(t, "GET", "alpha.localhost", "/boom/", nil); resp.StatusCode != 500 || strings.Contains(out, "Traceback") {
		t.Errorf("django exception: %d %q", resp.StatusCode, out)
	}
	if !strings.Contains(th.logs.String(), "RuntimeError: boom") {
		t.Errorf("django traceback not in the host log")
	}
}

// BenchmarkPythonRequest times a plain WSGI request in process, on a
// reused instance and on a new instance started from the snapshot
// (max_requests = 1): the difference is what a snapshot start costs.
func BenchmarkPythonRequest(b *testing.B) {
	if _, err := PythonRuntimeDir(); err != nil {
		b.Skip(err)
	}
	h := benchHost(b, b.TempDir(), pythonConfigFor(b))
	for _, c := range []struct{ name, target string }{{"reused", "/hello"}, {"snapshot-start", "/fresh/hello"}} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "http://py.test"+c.target, nil)
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}

// TestPythonRun: the Python runtime's one-shot entry point (wasgi_run, the
// base of wasgi manage) runs `python ARGS...` in the app's own sandbox: its
// python_path, python_home and env, the WASI args as sys.argv, the
// caller's stdin and stdout, the exit status passed through; the WSGI app
// is not imported.
func TestPythonRun(t *testing.T) {
	py := pythonRunner(t, pythonRuntime(t), pythonConfigFor(t))
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		out, errb, code, err := py(stdin, args...)
		if err != nil {
			t.Fatalf("run %q: %v", args, err)
		}
		return out, errb, code
	}
	out, _, code := run("from stdin\n", "-c", `import sys, os, greet, wsgiapp
print(sys.argv, os.environ["SECRET"], greet.hello(), sys.stdin.readline().strip())
sys.exit(4)`, "a", "b")
	if code != 4 || out != "['-c', 'a', 'b'] py-only hello from site-packages from stdin\n" {
		t.Fatalf("run -c: exit %d, stdout %q", code, out)
	}
	_, stderr, code := run("", "-c", "raise ValueError('broken')")
	if code != 1 || !strings.Contains(stderr, "ValueError: broken") {
		t.Fatalf("a failing run: exit %d, stderr %q; want 1 and the traceback", code, stderr)
	}
	out, _, code = run(`{"a": [1, 2]}`, "-m", "json.tool", "--compact")
	if code != 0 || out != "{\"a\":[1,2]}\n" {
		t.Fatalf("run -m json.tool: exit %d, stdout %q", code, out)
	}
}

// TestManage: wasgi manage runs manage.py from the app's python_path in
// the app's sandbox (its env), with the caller's stdin and stdout, and
// passes the exit status through.
func TestManage(t *testing.T) {
	pythonRuntime(t)
	root := testwasm.Root(t)
	cfg, err := sites.Parse(filepath.Join(root, "wasgi.toml"), []byte(strings.ReplaceAll(`
[[site]]
name = "mysite"
hosts = ["mysite.test"]
root = "{root}"
  [[site.app]]
  name = "main"
  mount = "/"
  runtime = "python"
  wsgi = "manage:application"
  python_path = ["testdata/python/manage"]
  env = { DJANGO_SETTINGS_MODULE = "mysite.settings" }
[[site]]
name = "go"
hosts = ["go.test"]
root = "{root}"
  [[site.app]]
  name = "main"
  mount = "/"
  module = "`+testwasm.Build(t, "examples/hello")+`"
`, "{root}", root)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.CacheDir = testwasm.CacheDir(t)
	var out, errb strings.Builder
	code, err := Manage(context.Background(), cfg, "mysite", []string{"migrate", "read", "exit=3"}, RunOptions{
		Stdin: strings.NewReader("typed\n"), Stdout: &out, Stderr: &errb, Log: zerolog.Nop(),
	})
	if err != nil || code != 3 {
		t.Fatalf("manage: %d, %v; stderr %s", code, err, errb.String())
	}
	want := "argv ['migrate', 'read', 'exit=3']\nsettings mysite.settings\nstdin typed\n"
	if out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
	if _, err := Manage(context.Background(), cfg, "go/main", nil, RunOptions{Log: zerolog.Nop()}); !errors.Is(err, ErrNoManagePy) {
		t.Fatalf("manage of a Go app: %v", err)
	}
	if _, err := Manage(context.Background(), cfg, "nosuch", nil, RunOptions{Log: zerolog.Nop()}); err == nil || !strings.Contains(err.Error(), `no site "nosuch"`) {
		t.Fatalf("manage of an unknown site: %v", err)
	}
}

// TestPythonHostCrypto: hashlib.pbkdf2_hmac in the runtime gives the
// same keys as Go's, computed by the host (Django's 1,000,000 iterations
// take a fraction of a second, not seconds); time.sleep works.
func TestPythonHostCrypto(t *testing.T) {
	run := pythonRunner(t, pythonRuntime(t), pythonConfigFor(t))
	out, errb, code, err := run("", "-c", `import hashlib, time
t = time.monotonic()
k = hashlib.pbkdf2_hmac("sha256", b"correct horse", b"NaCl", 1000000)
print(k.hex(), hashlib.pbkdf2_hmac("sha1", b"password", b"salt", 4096, 20).hex())
print(round(time.monotonic() - t, 3))
time.sleep(0.01)
print(hashlib.pbkdf2_hmac("md5", b"p", b"s", 2).hex())`)
	if err != nil || code != 0 {
		t.Fatalf("run: %d %v\n%s", code, err, errb)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want, _ := stdpbkdf2.Key(sha256.New, "correct horse", []byte("NaCl"), 1000000, 32)
	if len(lines) != 3 || lines[0] != hex.EncodeToString(want)+" 4b007901b765489abead49d926f721d065a429c1" {
		t.Fatalf("keys %q, want %x and RFC 6070's", lines, want)
	}
	md5want, _ := stdpbkdf2.Key(md5.New, "p", []byte("s"), 2, 16)
	if lines[2] != hex.EncodeToString(md5want) {
		t.Fatalf("md5 (hashlib's own fallback) = %s, want %x", lines[2], md5want)
	}
	t.Logf("1,000,000 iterations of PBKDF2-SHA256 in the runtime: %s s", lines[1])
}

// TestPythonPathInADir: a python_path folder that is also one of the app's
// dirs is on sys.path at that dir, with its mode (a Django project whose
// db.sqlite3 sits beside manage.py), not mounted again read-only.
func TestPythonPathInADir(t *testing.T) {
	pythonRuntime(t)
	project := t.TempDir()
	os.WriteFile(filepath.Join(project, "manage.py"), []byte(`import os, sys
print(sorted(set(p for p in sys.path if p.startswith(("/srv", "/python")))), os.path.dirname(os.path.abspath(__file__)))
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "db.sqlite3"), "w").write("written")
`), 0o644)
	cfg, err := sites.Parse(filepath.Join(t.TempDir(), "wasgi.toml"), []byte(fmt.Sprintf(`
[[site]]
name = "mysite"
hosts = ["mysite.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  runtime = "python"
  wsgi = "mysite.wsgi:application"
  python_path = [%q]
  dirs = [{ guest = "/srv/mysite", host = %q, mode = "rw" }]
`, project, project)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.CacheDir = testwasm.CacheDir(t)
	var out, errb strings.Builder
	code, err := Manage(context.Background(), cfg, "mysite", nil, RunOptions{Stdout: &out, Stderr: &errb, Log: zerolog.Nop()})
	if err != nil || code != 0 {
		t.Fatalf("manage: %d %v\n%s", code, err, errb.String())
	}
	if got := strings.TrimSpace(out.String()); got != "['/srv/mysite'] /srv/mysite" {
		t.Fatalf("sys.path and BASE_DIR: %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(project, "db.sqlite3")); string(b) != "written" {
		t.Fatalf("the project folder is not writable through its dir: %q", b)
	}
}

// TestPythonCheckReports: wasgi check starts each Python app once and
// says what cannot work, with the exception, file and line: a WSGI
// module that fails to import fails the check; an auth hook that does
// not exist fails it for that hook, while the site still serves.
func TestPythonCheckReports(t *testing.T) {
	pythonRuntime(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "broken.py"), []byte("import os\n\ndef helper():\n    return missing_name\n\nhelper()\napplication = None\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "good.py"), []byte("def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'fine']\n"), 0o644)
	text := func(wsgi, hook string) string {
		return fmt.Sprintf(`
[server]
cache_dir = %q
access_log = "off"
[[site]]
name = "py"
hosts = ["py.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  runtime = "python"
  wsgi = %q
  python_path = [%q]
  %s
`, testwasm.CacheDir(t), wsgi, dir, hook)
	}
	check := func(config string) error {
		cfg, err := sites.Parse(filepath.Join(dir, "wasgi.toml"), []byte(config))
		if err != nil {
			t.Fatal(err)
		}
		return Check(context.Background(), cfg, zerolog.Nop())
	}
	err := check(text("broken:application", ""))
	if err == nil || !strings.Contains(err.Error(), "site py app main: cannot start: broken:application: NameError: name 'missing_name' is not defined ("+filepath.Join("/python", filepath.Base(dir), "broken.py")+", line 4)") {
		t.Fatalf("a broken app: %v", err)
	}
	err = check(text("good:application", `check_password = "good:no_such_function"`))
	if err == nil || !strings.Contains(err.Error(), "check_password good:no_such_function: AttributeError") || !strings.Contains(err.Error(), "the locations it protects") {
		t.Fatalf("a missing check_password: %v", err)
	}
	if err := check(text("good:application", "")); err != nil {
		t.Fatalf("a good app: %v", err)
	}
	// The site with the missing hook still serves.
	th := startHost(t, text("good:application", `check_password = "good:no_such_function"`))
	if resp, body := th.do(t, "GET", "py.test", "/", nil); resp.StatusCode != 200 || body != "fine" {
		t.Fatalf("the site with a missing hook: %d %q", resp.StatusCode, body)
	}
}

// pythonRunner compiles the Python runtime and returns a function running
// `python ARGS...` once (Runtime.Run) in the sandbox of the first app of
// config, with stdin, a minute's timeout: its stdout, stderr, exit status.
func pythonRunner(t *testing.T, dir, config string) func(stdin string, args ...string) (string, string, int, error) {
	t.Helper()
	cfg, err := sites.Parse(filepath.Join(testwasm.Root(t), "wasgi.toml"), []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Sites[0]
	module, ac, err := appConfig(cfg, sc, sc.Apps[0], dir)
	if err != nil {
		t.Fatal(err)
	}
	ac.Logger = zerolog.Nop()
	rt, err := sandbox.New(context.Background(), sandbox.Options{CacheDir: testwasm.CacheDir(t), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	m, err := rt.Compile(context.Background(), module)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Release(context.Background(), m) })
	return func(stdin string, args ...string) (string, string, int, error) {
		var out, errb strings.Builder
		code, err := rt.Run(context.Background(), m, ac, sandbox.RunConfig{
			Args: args, Env: map[string]string{python.EnvRun: "1"},
			Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Timeout: time.Minute,
		})
		return out.String(), errb.String(), code, err
	}
}
