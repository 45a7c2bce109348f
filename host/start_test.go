package host

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasgi/wasgi/internal/testwasm"
	"github.com/wasgi/wasgi/sites"
)

// startFailSites: site "bad" runs testdata/startfail with /data from
// data, site "good" the Go test guest; the admin listener is on.
func startFailSites(t *testing.T, data string) string {
	return fmt.Sprintf(`
[server]
cache_dir = "{cache}"
access_log = "off"
admin = "127.0.0.1:0"
[[site]]
name = "bad"
hosts = ["bad.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = %q
  dirs = [{ guest = "/data", host = %q, mode = "ro" }]
[[site]]
name = "good"
hosts = ["good.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
`, testwasm.BuildC(t, "testdata/startfail/startfail.c", true), data)
}

// TestAppStartFailureBackedOff: an app whose _initialize traps (here a C
// guest, while /data/fail exists) is not started again by every request:
// quick requests get 503 with a Retry-After at once, the log has one
// "app failed to start" event per real attempt (with what the guest
// wrote to stderr), not one per request, /metrics and /readyz name the
// app, the other site keeps serving, and once the cause is gone a retry
// after the backoff starts the app and serves 200.
func TestAppStartFailureBackedOff(t *testing.T) {
	data := t.TempDir()
	failFile := filepath.Join(data, "fail")
	if err := os.WriteFile(failFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	th := startHost(t, startFailSites(t, data))
	admin := "http://" + th.AdminAddr().String()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		bufio.NewReader(resp.Body).WriteTo(b)
		return resp.StatusCode, b.String()
	}

	const n = 20
	for i := range n {
		resp, body := th.do(t, "GET", "bad.test", "/", nil)
		ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != 503 || err != nil || ra < 1 {
			t.Fatalf("request %d: %d, Retry-After %q, %q; want 503 with a Retry-After", i, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	logs := th.logs.String()
	events := strings.Count(logs, `"message":"app failed to start`)
	_, text := get("/metrics")
	samples := parseMetrics(t, text)
	attempts := samples[`wasgi_app_start_failures_total{site="bad",app="main"}`]
	// Each event is a real attempt; attempts come at most once per
	// backoff (1 s, then 2 s, ...), far fewer than the requests.
	if events < 1 || events >= n || float64(events) != attempts {
		t.Fatalf("%d start failures logged, %v counted, for %d requests; want one per attempt, fewer than the requests:\n%s", events, attempts, n, logs)
	}
	if !strings.Contains(logs, `"site":"bad"`) || !strings.Contains(logs, "startfail: /data/fail exists") || strings.Contains(logs, "app request failed") {
		t.Fatalf("the failure event lacks the site or the guest's stderr, or requests were logged one by one:\n%s", logs)
	}
	if samples[`wasgi_app_failed{site="bad",app="main"}`] != 1 || samples[`wasgi_app_failed{site="good",app="main"}`] != 0 {
		t.Fatalf("wasgi_app_failed:\n%s", text)
	}
	if code, body := get("/readyz"); code != 200 || !strings.HasPrefix(body, "ready\n") || !strings.Contains(body, "app bad/main fails to start since ") {
		t.Fatalf("readyz: %d %q; want 200, ready, and the failing app named", code, body)
	}
	if resp, _ := th.do(t, "GET", "good.test", "/counter", nil); resp.StatusCode != 200 {
		t.Fatalf("the other site: %d", resp.StatusCode)
	}

	// Fixed: the first request after the backoff starts the app.
	if err := os.Remove(failFile); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		resp, body := th.do(t, "GET", "bad.test", "/", nil)
		if resp.StatusCode == 200 && body == "started\n" {
			break
		}
		if resp.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("after the fix: %d %q\n%s", resp.StatusCode, body, th.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(th.logs.String(), `"message":"app starts again"`) {
		t.Fatalf("recovery not logged:\n%s", th.logs.String())
	}
	_, text = get("/metrics")
	if samples := parseMetrics(t, text); samples[`wasgi_app_failed{site="bad",app="main"}`] != 0 {
		t.Fatalf("wasgi_app_failed after the app started:\n%s", text)
	}
	if _, body := get("/readyz"); body != "ready\n" {
		t.Fatalf("readyz after the app started: %q", body)
	}
}

// TestPythonImportFailureBackedOff: a Python app whose WSGI module
// cannot be imported (a package missing, as Flask was in the issue) is
// not started again by every request: one traceback per attempt, 503 with
// a Retry-After meanwhile; once the module imports, it serves.
func TestPythonImportFailureBackedOff(t *testing.T) {
	pythonRuntime(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "webapp.py")
	if err := os.WriteFile(app, []byte("import flask_is_not_installed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	th := startHost(t, fmt.Sprintf(`
[server]
cache_dir = "{cache}"
access_log = "off"
[[site]]
name = "py"
hosts = ["py.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  runtime = "python"
  wsgi = "webapp:application"
  python_path = [%q]
`, dir))
	const n = 10
	for i := range n {
		resp, body := th.do(t, "GET", "py.test", "/", nil)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || strings.Contains(body, "Traceback") {
			t.Fatalf("request %d: %d, Retry-After %q, %q", i, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	logs := th.logs.String()
	// One interpreter start (the bridge's traceback, the host's event
	// naming the exception) per attempt, far fewer attempts than requests.
	events := strings.Count(logs, `"message":"app failed to start`)
	if starts := strings.Count(logs, "cannot import the WSGI application webapp:application"); events < 1 || events >= n || starts != events {
		t.Fatalf("%d start failures logged, %d interpreter starts, for %d requests:\n%s", events, starts, n, logs)
	}
	if !strings.Contains(logs, `"stderr":"wasgi-problem: webapp:application: ModuleNotFoundError: No module named 'flask_is_not_installed'`) {
		t.Fatalf("the failure event does not name the exception:\n%s", logs)
	}
	if err := os.WriteFile(app, []byte("def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'imported']\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		resp, body := th.do(t, "GET", "py.test", "/", nil)
		if resp.StatusCode == 200 && body == "imported" {
			break
		}
		if resp.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("after the fix: %d %q\n%s", resp.StatusCode, body, th.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAppStartFailureConcurrent: many requests at once to an app that
// fails to start all get 503 with a Retry-After; starts that were already
// running when the first failed are counted but not logged again; a
// reload with the cause gone serves at once, without waiting for the
// backoff (the new config's pool starts with a clean slate).
func TestAppStartFailureConcurrent(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "fail"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	th := startHost(t, startFailSites(t, data))
	const n = 16
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", th.url+"/", nil)
			req.Host = "bad.test"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
				t.Errorf("%d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		})
	}
	wg.Wait()
	events := strings.Count(th.logs.String(), `"message":"app failed to start"`)
	attempts := th.counters.startFailures("bad", "main").Load()
	if events < 1 || int64(events) > attempts || events >= n {
		t.Fatalf("%d events, %d attempts, for %d requests:\n%s", events, attempts, n, th.logs.String())
	}
	if err := os.Remove(filepath.Join(data, "fail")); err != nil {
		t.Fatal(err)
	}
	cfg, err := sites.Load(writeConfig(t, th.dir, startFailSites(t, data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if resp, body := th.do(t, "GET", "bad.test", "/", nil); resp.StatusCode != 200 || body != "started\n" {
		t.Fatalf("after a reload: %d %q", resp.StatusCode, body)
	}
	if got := th.counters.startFailures("bad", "main").Load(); got != attempts {
		t.Fatalf("start failures %d after the reload, want %d kept", got, attempts)
	}
}
