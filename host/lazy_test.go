package host

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/internal/testwait"
	"github.com/wasgi/wasgi/sites"
)

const lazySites = `
[server]
cache_dir = "{cache}"
access_log = "off"
compile = "lazy"

[groups.warm]
min_instances = 1

[[site]]
name = "a"
hosts = ["a.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"

[[site]]
name = "b"
hosts = ["b.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "broken.wasm"

[[site]]
name = "d"
hosts = ["d.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"

[[site]]
name = "c"
hosts = ["c.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{raw}"
  group = "warm"
`

// TestLazyCompile: with compile = "lazy" a reactor is compiled on its
// first request, a broken module is found then (500, logged, once per
// config), an app with warm instances is still compiled at load, and
// `wasgi check` compiles everything.
func TestLazyCompile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.wasm"), []byte("\x00asm\x01\x00\x00\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := sites.Load(writeConfig(t, dir, lazySites))
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(context.Background(), cfg, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "broken.wasm") {
		t.Fatalf("check: %v, want the broken module", err)
	}
	th := startHost(t, strings.ReplaceAll(lazySites, `"broken.wasm"`, `"`+filepath.Join(dir, "broken.wasm")+`"`))
	if n := th.rt.CompileStats().Loaded; n != 1 {
		t.Fatalf("%d modules compiled at load, want 1 (the warm app's)", n)
	}
	for i := 0; i < 2; i++ {
		if resp, body := th.do(t, "GET", "a.test", "/counter", nil); resp.StatusCode != 200 {
			t.Fatalf("lazy app: %d %s", resp.StatusCode, body)
		}
		if resp, _ := th.do(t, "GET", "b.test", "/", nil); resp.StatusCode != 500 {
			t.Fatalf("broken lazy app: %d", resp.StatusCode)
		}
	}
	// Concurrent first requests share one compile and one pool.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if code, err := th.getStatus("d.test", "/counter"); err != nil || code != 200 {
				t.Errorf("concurrent first requests: %d %v", code, err)
			}
		})
	}
	wg.Wait()
	if n := th.rt.CompileStats().Loaded; n != 2 {
		t.Fatalf("%d modules loaded after the first requests, want 2", n)
	}
	if c := strings.Count(th.logs.String(), "app ready on its first request"); c != 2 {
		t.Fatalf("%d first-request compiles logged, want 2 (sites a and d):\n%s", c, th.logs.String())
	}
	if !strings.Contains(th.logs.String(), `site b app main`) {
		t.Fatalf("broken module not logged:\n%s", th.logs.String())
	}
	// Two requests to the broken app, one event: nothing changes until a
	// reload.
	if n := strings.Count(th.logs.String(), "app module does not compile"); n != 1 {
		t.Fatalf("%d events for the broken module, want 1:\n%s", n, th.logs.String())
	}
}

// TestLazyApp: which apps compile = "lazy" leaves for their first request.
func TestLazyApp(t *testing.T) {
	cfg := &sites.Config{
		Server: sites.Server{Compile: "lazy"},
		Groups: map[string]*sites.Group{"cold": {}, "warm": {MinInstances: 1}},
	}
	site := &sites.Site{Locations: []*sites.Location{{Auth: "provider"}}}
	for _, tc := range []struct {
		app  sites.App
		lazy bool
	}{
		{sites.App{Name: "reactor", Group: "cold", ABI: "wasgi"}, true},
		{sites.App{Name: "warm", Group: "warm", ABI: "wasgi"}, false},
		{sites.App{Name: "cgi", Group: "cold", ABI: "cgi"}, false},
		{sites.App{Name: "python", Group: "cold", ABI: "wasgi", Runtime: "python"}, false},
		{sites.App{Name: "provider", Group: "cold", ABI: "wasgi"}, false},
	} {
		if got := lazyApp(cfg, site, &tc.app); got != tc.lazy {
			t.Errorf("%s: lazy = %v", tc.app.Name, got)
		}
	}
	cfg.Server.Compile = "eager"
	if lazyApp(cfg, site, &sites.App{Name: "reactor", Group: "cold", ABI: "wasgi"}) {
		t.Error("eager config: lazy app")
	}
}

// TestLazyUnload: a lazily compiled app whose instances idle_timeout
// closed gives its module back once unused for idle_timeout (before: it
// stayed loaded for the life of the config), and its next request
// compiles it again; requests arriving around the unload are all served.
func TestLazyUnload(t *testing.T) {
	th := startHost(t, `
[server]
cache_dir = "{cache}"
access_log = "off"
compile = "lazy"

[groups.cold]
idle_timeout = "100ms"

[[site]]
name = "a"
hosts = ["a.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
  group = "cold"
`)
	loaded := func() int { return th.rt.CompileStats().Loaded }
	waitLoaded := func(want int) {
		t.Helper()
		testwait.Until(t, fmt.Sprintf("%d modules loaded", want), func() bool { return loaded() == want })
	}
	for round := range 2 {
		if resp, body := th.do(t, "GET", "a.test", "/counter", nil); resp.StatusCode != 200 || body != "1" {
			t.Fatalf("round %d: %d %q, want a fresh instance's 1", round, resp.StatusCode, body)
		}
		if n := loaded(); n != 1 {
			t.Fatalf("round %d: %d modules loaded after a request, want 1", round, n)
		}
		waitLoaded(0)
	}
	if n := strings.Count(th.logs.String(), "app unloaded after idle_timeout"); n != 2 {
		t.Fatalf("%d unload events, want 2:\n%s", n, th.logs.String())
	}
	// Requests at gaps around idle_timeout race the unload: none fails.
	var wg sync.WaitGroup
	for c := range 3 {
		rng := rand.New(rand.NewPCG(1, uint64(c)))
		wg.Go(func() {
			for i := range 12 {
				time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond)
				if code, err := th.getStatus("a.test", "/counter"); err != nil || code != 200 {
					t.Errorf("client %d request %d: %d %v", c, i, code, err)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d unloads while requests came", strings.Count(th.logs.String(), "app unloaded after idle_timeout")-2)
	waitLoaded(0)
}
