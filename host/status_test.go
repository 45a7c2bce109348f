package host

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/sites"
)

// startStatusHost is startHost with the status recorder's step set to
// step (between New and Listen), so that a test sees history points
// without waiting for the real 10 s ones.
func startStatusHost(t testing.TB, config string, step time.Duration) *testHost {
	t.Helper()
	dir := t.TempDir()
	cfg, err := sites.Load(writeConfig(t, dir, config))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Listen = []string{"127.0.0.1:0"}
	logs := &syncBuffer{}
	h, err := New(context.Background(), cfg, zerolog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	h.statusEvery = step
	if err := h.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Shutdown(ctx)
	})
	return &testHost{Host: h, url: "http://" + h.Addrs()[0].String(), logs: logs, dir: dir}
}

// statusSites: alpha's app is mounted at /app (anything else is a 404)
// in a shared group; beta's app has a group of one instance with a short
// queue_timeout, for 503s.
const statusSites = `
[server]
cache_dir = "{cache}"
access_log = "off"
admin = "127.0.0.1:0"
admin_token_file = "TOKENFILE"

[groups.shared]
instances = 2
request_timeout = "1s"

[groups.tiny]
instances = 1
request_timeout = "1s"
queue_timeout = "50ms"

[[site]]
name = "alpha"
hosts = ["alpha.test"]
  [[site.app]]
  name = "main"
  mount = "/app"
  module = "{guest}"
  group = "shared"

[[site]]
name = "beta"
hosts = ["beta.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
  group = "tiny"
`

const statusToken = "status-token-0123456789"

// statusConfig is statusSites with an admin token file in dir.
func statusConfig(t *testing.T, dir string) string {
	t.Helper()
	f := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(f, []byte(statusToken), 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(statusSites, "TOKENFILE", f, 1)
}

// adminGet GETs path on th's admin listener, with the token unless auth
// is false.
func adminGet(t *testing.T, th *testHost, path string, auth bool) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+th.AdminAddr().String()+path, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer "+statusToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func statusJSON(t *testing.T, th *testHost, auth bool) *StatusReport {
	t.Helper()
	resp, body := adminGet(t, th, "/status.json", auth)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/status.json: %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var rep StatusReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("/status.json: %v\n%s", err, body)
	}
	return &rep
}

func (r *StatusReport) site(t *testing.T, name string) StatusSite {
	t.Helper()
	for _, s := range r.Sites {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no site %s in the status", name)
	return StatusSite{}
}

func (r *StatusReport) group(t *testing.T, name string) StatusGroup {
	t.Helper()
	for _, g := range r.Groups {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("no group %s in the status", name)
	return StatusGroup{}
}

// TestStatusPage: issue 22. Requests of every kind against two sites (2xx,
// 404, a Go panic's 500, a trap, a timeout's 504, a queue timeout's 503),
// then /status.json counts each where it belongs: by site and class, by
// group and kind, over the window and in the recorder's history; reloads
// are listed, accepted and refused; /status is an HTML page behind the
// admin token that escapes what it shows.
func TestStatusPage(t *testing.T) {
	dir := t.TempDir()
	config := statusConfig(t, dir)
	th := startStatusHost(t, config, 100*time.Millisecond)

	for _, c := range []struct {
		host, path string
		status     int
	}{
		{"alpha.test", "/app/env", 200}, {"alpha.test", "/app/env", 200}, {"alpha.test", "/app/counter", 200},
		{"alpha.test", "/missing", 404}, {"alpha.test", "/", 404},
		{"alpha.test", "/app/panic", 500}, // recovered in the guest: no trap
		{"alpha.test", "/app/exit", 500},  // proc_exit: a trap
		{"alpha.test", "/app/spin", 504},  // request_timeout
	} {
		if resp, body := th.do(t, "GET", c.host, c.path, nil); resp.StatusCode != c.status {
			t.Fatalf("%s%s: %d, want %d: %s", c.host, c.path, resp.StatusCode, c.status, body)
		}
	}
	// beta's one instance busy with a sleep that times out; meanwhile a
	// second request waits past queue_timeout: 503.
	var wg sync.WaitGroup
	wg.Add(1)
	var sleepStatus int
	go func() {
		defer wg.Done()
		req, _ := http.NewRequest("GET", th.url+"/sleep", nil)
		req.Host = "beta.test"
		if resp, err := http.DefaultClient.Do(req); err == nil {
			sleepStatus = resp.StatusCode
			resp.Body.Close()
		}
	}()
	waitFor(t, "beta's instance busy", func() bool { return th.state.Load().groups["tiny"].Stats().InUse == 1 })
	if resp, body := th.do(t, "GET", "beta.test", "/env", nil); resp.StatusCode != 503 {
		t.Fatalf("beta while its instance is busy: %d, want 503: %s", resp.StatusCode, body)
	}
	wg.Wait()
	if sleepStatus != 504 {
		t.Fatalf("beta /sleep: %d, want 504", sleepStatus)
	}

	// Reloads: one accepted, one refused by Reload (a module that does
	// not compile, at a path with markup in it), one refused before it
	// (as cmd/wasgi records a config file that does not load).
	cfg, err := sites.Load(writeConfig(t, dir, config))
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "<bad>.wasm")
	os.WriteFile(bad, []byte("not wasm"), 0o644)
	badCfg, err := sites.Load(writeConfig(t, dir, strings.Replace(config, `mount = "/"
  module = "{guest}"`, `mount = "/"
  module = "`+bad+`"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Reload(context.Background(), badCfg); err == nil {
		t.Fatal("a module that does not compile was accepted")
	}
	th.ReloadFailed(errors.New(`wasgi.toml:3:1: <script>alert("x")</script>`))

	// The history: every request in a whole step of the recorder.
	var rep *StatusReport
	waitFor(t, "the requests in the history", func() bool {
		rep = statusJSON(t, th, true)
		var n int64
		for _, p := range rep.site(t, "alpha").History {
			if p != nil {
				n += p.Requests
			}
		}
		return n == 8
	})
	alpha, beta := rep.site(t, "alpha"), rep.site(t, "beta")
	if want := (StatusClasses{Total: 8, C2xx: 3, C4xx: 2, C5xx: 3}); alpha.Requests != want {
		t.Errorf("alpha's requests %+v, want %+v", alpha.Requests, want)
	}
	if want := (StatusClasses{Total: 2, C5xx: 2}); beta.Requests != want {
		t.Errorf("beta's requests %+v, want %+v", beta.Requests, want)
	}
	if w := alpha.Window; w.Requests != 8 || w.C4xx != 2 || w.C5xx != 3 || w.P50ms == nil || w.P99ms == nil || *w.P99ms < *w.P50ms {
		t.Errorf("alpha's window: %+v", w)
	}
	if w := alpha.Window; *w.P99ms < 500 { // the 504 took request_timeout (1 s)
		t.Errorf("alpha's p99 %v ms, with a request of 1 s among 8", *w.P99ms)
	}
	shared, tiny := rep.group(t, "shared"), rep.group(t, "tiny")
	if g := shared.Window; g.Traps != 1 || g.Timeouts != 1 || g.QueueTimeouts != 0 || g.Calls != 6 {
		t.Errorf("group shared over the window: %+v", g)
	}
	if g := tiny.Totals; g.Traps != 0 || g.Timeouts != 1 || g.QueueTimeouts != 1 {
		t.Errorf("group tiny: %+v", g)
	}
	if tiny.Instances != 1 || len(tiny.Apps) != 1 || tiny.Apps[0] != "beta/main" || tiny.Busy != 0 || tiny.Queued != 0 {
		t.Errorf("group tiny: %+v", tiny)
	}
	if len(alpha.Apps) != 1 || alpha.Apps[0].State != "ok" || alpha.Apps[0].Mount != "/app" || alpha.Apps[0].Kind != "wasgi" || alpha.Apps[0].Group != "shared" {
		t.Errorf("alpha's apps: %+v", alpha.Apps)
	}
	if len(rep.Reloads) != 3 || !rep.Reloads[2].OK || rep.Reloads[2].Sites != 2 ||
		rep.Reloads[1].OK || !strings.Contains(rep.Reloads[1].Error, "<bad>.wasm") || rep.Reloads[0].OK {
		t.Errorf("reloads, newest first: %+v", rep.Reloads)
	}
	if rep.Compile.Loaded < 1 || rep.Compile.Compiled+rep.Compile.Reused < 2 || !rep.Ready {
		t.Errorf("compile %+v, ready %v", rep.Compile, rep.Ready)
	}

	// The page, behind the token like /metrics.
	for _, path := range []string{"/status", "/status.json", "/status?format=json"} {
		if resp, _ := adminGet(t, th, path, false); resp.StatusCode != 401 {
			t.Errorf("%s without the token: %d, want 401", path, resp.StatusCode)
		}
	}
	if resp, body := adminGet(t, th, "/status?format=json", true); resp.StatusCode != 200 || !json.Valid([]byte(body)) {
		t.Errorf("/status?format=json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, page := adminGet(t, th, "/status", true)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("/status: %d, %q, CSP %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
	}
	for _, want := range []string{`<meta http-equiv="refresh" content="5">`, "alpha.test", "beta/main", "<svg", "refused",
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "&lt;bad&gt;.wasm"} {
		if !strings.Contains(page, want) {
			t.Errorf("/status lacks %s", want)
		}
	}
	for _, bad := range []string{"<script", "<bad>", " src=", " href=\"http"} {
		if strings.Contains(page, bad) {
			t.Errorf("/status has %q", bad)
		}
	}
}

// TestStatusFailingApp: an app whose instances fail to start (the C
// guest of startFailSites, while /data/fail exists) is listed as failing,
// with its error, in the JSON and at the top of the page.
func TestStatusFailingApp(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "fail"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	th := startStatusHost(t, startFailSites(t, data), time.Hour)
	if resp, body := th.do(t, "GET", "bad.test", "/", nil); resp.StatusCode != 503 {
		t.Fatalf("bad.test: %d, want 503: %s", resp.StatusCode, body)
	}
	rep := statusJSON(t, th, false)
	a := rep.site(t, "bad").Apps[0]
	if a.State != "failing" || a.Failing == nil || a.Failing.Failures != 1 || a.StartFailures != 1 || a.Failing.Error == "" ||
		len(rep.FailingApps) != 1 || rep.FailingApps[0] != "bad/main" {
		t.Fatalf("failing app: %+v, failing_apps %v", a, rep.FailingApps)
	}
	if g := rep.site(t, "good").Apps[0]; g.State != "ok" || g.Failing != nil {
		t.Errorf("the other site's app: %+v", g)
	}
	_, page := adminGet(t, th, "/status", false)
	if !strings.Contains(page, "Apps failing to start") || !strings.Contains(page, "<title>wasgi status · 1 failing</title>") {
		t.Error("/status does not show the failing app")
	}
}

// TestStatusStarting: an instance being created counts as starting, not
// busy (the C guest of startFailSites waits in its constructor while
// /data/hold exists), in sandbox.Stats and on the status page.
func TestStatusStarting(t *testing.T) {
	data := t.TempDir()
	hold := filepath.Join(data, "hold")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	th := startStatusHost(t, startFailSites(t, data), time.Hour)
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest("GET", th.url+"/", nil)
		req.Host = "bad.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	waitFor(t, "an instance starting", func() bool { return th.state.Load().groups["bad/main"].Stats().Starting == 1 })
	g := statusJSON(t, th, false).group(t, "bad/main")
	if g.Starting != 1 || g.Busy != 0 {
		t.Errorf("while the instance starts: starting %d, busy %d", g.Starting, g.Busy)
	}
	_, page := adminGet(t, th, "/status", false)
	if !strings.Contains(page, `<rect class="starting"`) {
		t.Error("the page's instance bar shows nothing starting")
	}
	os.Remove(hold)
	if code := <-done; code != 200 {
		t.Fatalf("the request after the start: %d", code)
	}
	if g := statusJSON(t, th, false).group(t, "bad/main"); g.Starting != 0 || g.Idle != 1 {
		t.Errorf("after the start: starting %d, idle %d", g.Starting, g.Idle)
	}
}

// TestStatusRecorderStops: Shutdown stops the recorder's goroutine; a
// host without an admin listener has none.
func TestStatusRecorderStops(t *testing.T) {
	th := startStatusHost(t, strings.Replace(statusSites, `admin_token_file = "TOKENFILE"`, "", 1), time.Millisecond)
	if th.status == nil {
		t.Fatal("no recorder with an admin listener")
	}
	if err := th.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-th.status.done:
	default:
		t.Fatal("the recorder still runs after Shutdown")
	}
	if plain := startHost(t, twoSites); plain.status != nil {
		t.Fatal("a recorder without an admin listener")
	}
}

// waitFor polls cond until it holds, failing after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
