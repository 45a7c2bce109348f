package host

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/wasgi/wasgi/sites"
)

// browserSites: "www" has its app at /app (other paths are 404s),
// "api" at / in a group of its own; the admin listener needs the token.
const browserSites = `
[server]
cache_dir = "{cache}"
access_log = "off"
admin = "127.0.0.1:0"
admin_token_file = "TOKENFILE"

[groups.web]
instances = 3
min_instances = 1
request_timeout = "2s"

[[site]]
name = "www"
hosts = ["www.example.test", "example.test"]
  [[site.app]]
  name = "main"
  mount = "/app"
  module = "{guest}"
  group = "web"

[[site]]
name = "api"
hosts = ["api.example.test"]
  [[site.app]]
  name = "v1"
  mount = "/"
  module = "{guest}"
`

// TestBrowserStatusPage: issue 22. The admin listener's /status in
// headless Chromium with JavaScript off, while a load runs against two
// sites: the page shows both sites and a request rate that is not zero,
// reloads itself (meta refresh, no script) with new numbers, and leaves a
// full-page screenshot in artifactDir (and in t.ArtifactDir, kept with
// go test -artifacts).
func TestBrowserStatusPage(t *testing.T) {
	chrome := chromium(t)
	dir := t.TempDir()
	config := strings.Replace(browserSites, "TOKENFILE", filepath.Join(dir, "admin.token"), 1)
	if err := os.WriteFile(filepath.Join(dir, "admin.token"), []byte(statusToken), 0o600); err != nil {
		t.Fatal(err)
	}
	th := startStatusHost(t, config, 500*time.Millisecond)

	// The load: until the test ends, requests of every kind, the
	// browser's own requests aside.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent atomic.Int64
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths := [][2]string{
				{"www.example.test", "/app/env"}, {"www.example.test", "/app/busy?ms=3"}, {"api.example.test", "/counter"},
				{"www.example.test", "/app/busy?ms=20"}, {"api.example.test", "/env"}, {"www.example.test", "/missing"},
			}
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := paths[i%len(paths)]
				if i%97 == 0 {
					p = [2]string{"api.example.test", "/panic"}
				}
				req, _ := http.NewRequest("GET", th.url+p[1], nil)
				req.Host = p[0]
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
					sent.Add(1)
				}
			}
		}()
	}
	t.Cleanup(func() { close(stop); wg.Wait() })

	// A reload accepted and one refused, for the page's list.
	cfg, err := sites.Load(writeConfig(t, dir, config))
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "broken.wasm")
	os.WriteFile(bad, []byte("not wasm"), 0o644)
	if badCfg, err := sites.Load(writeConfig(t, dir, strings.Replace(config, `mount = "/"
  module = "{guest}"`, `mount = "/"
  module = "`+bad+`"`, 1))); err != nil {
		t.Fatal(err)
	} else if th.Reload(context.Background(), badCfg) == nil {
		t.Fatal("a module that does not compile was accepted")
	}
	// A dozen points of history, for charts worth looking at.
	waitFor(t, "a dozen points of history", func() bool { return len(statusJSON(t, th, true).site(t, "www").History) >= 12 })

	shots := artifactDir(t)
	session, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alloc, cancel := chromedp.NewExecAllocator(session, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
		chromedp.NoSandbox, // as root on CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		// JavaScript off for every page: the page must work without it.
		chromedp.Flag("blink-settings", "scriptEnabled=false"),
	)...)
	defer cancel()
	tab, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting %s: %v", chrome, err)
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\nhost log:\n%s", what, err, th.logs.String())
		}
	}
	tryText := func(sel string) (string, error) {
		ctx, cancel := context.WithTimeout(tab, 20*time.Second)
		defer cancel()
		return chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	}
	text := func(sel string) string {
		t.Helper()
		v, err := tryText(sel)
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}

	// Scripts are off: a page's own script does not run.
	run("a page with a script", chromedp.Navigate(`data:text/html,<title>static</title><script>document.title="scripted"</script>`))
	if title, err := chromedp.Run(tab, chromedp.Title()); err != nil || title != "static" {
		t.Fatalf("JavaScript is not off: title %q, %v", title, err)
	}

	// The admin token as a browser behind a proxy would send it: a header
	// on every request, the page's own refreshes included.
	run("the admin token", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		if err == nil {
			_, err = cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Bearer " + statusToken}})
		}
		return chromedp.Void{}, err
	})
	page := "http://" + th.AdminAddr().String() + "/status"
	run("open /status", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`tr[data-site="www"]`)))
	body := text("body")
	for _, want := range []string{"wasgi status", "www", "api", "www.example.test", "web", "api/v1", "refused", "broken.wasm"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q:\n%s", want, body)
		}
	}
	for _, site := range []string{"www", "api"} {
		rate := text(`tr[data-site="` + site + `"] td.rate`)
		if v, err := strconv.ParseFloat(strings.ReplaceAll(rate, "\u202f", ""), 64); err != nil || v <= 0 {
			t.Errorf("site %s: request rate %q while the load runs", site, rate)
		}
	}
	// The page reloads itself, with new numbers: the load goes on.
	before := text(`tr[data-site="www"] td.total`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		// While the page is replaced, a query may find no document: ask again.
		if now, err := tryText(`tr[data-site="www"] td.total`); err == nil && now != before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not refresh itself in 30 s (requests still %q)", before)
		}
		time.Sleep(200 * time.Millisecond)
	}
	run("the refreshed page", chromedp.WaitVisible(chromedp.CSS(`tr[data-site="api"]`)))
	if sent.Load() == 0 {
		t.Fatal("the load sent nothing")
	}

	shot := func(name string) {
		t.Helper()
		var png []byte
		var err error
		for range 3 { // a refresh may replace the page meanwhile: once more
			ctx, cancel := context.WithTimeout(tab, 20*time.Second)
			if err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`tr[data-site="api"]`))); err == nil {
				png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
			}
			cancel()
			if err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		for _, d := range []string{shots, t.ArtifactDir()} {
			f := filepath.Join(d, name)
			if err := os.WriteFile(f, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", f)
		}
	}
	shot("status.png")
	// And in the dark, as prefers-color-scheme asks.
	run("dark", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return chromedp.Void{}, err
	})
	shot("status-dark.png")
	t.Logf("load: %d requests", sent.Load())
}
