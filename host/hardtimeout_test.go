package host

import (
	"strings"
	"testing"
	"time"

	"github.com/wasgi/wasgi/sandbox"
)

const hardTimeoutSites = `
[server]
cache_dir = "{cache}"
access_log = "off"

[groups.trusted]
instances = 2
request_timeout = "300ms"
queue_timeout = "10s"
hard_timeout = false

[groups.strict]
instances = 1
request_timeout = "300ms"
queue_timeout = "10s"

[[site]]
name = "trusted"
hosts = ["trusted.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
  group = "trusted"

[[site]]
name = "strict"
hosts = ["strict.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
  group = "strict"
`

// TestHardTimeoutOff: a group with hard_timeout = false answers 504 at
// request_timeout while its guest runs on, keeps serving with its other
// instance, and gets the instance back when the guest returns; the default
// group still stops an endless loop.
func TestHardTimeoutOff(t *testing.T) {
	th := startHost(t, hardTimeoutSites)
	if !strings.Contains(th.logs.String(), `"group":"trusted"`) || !strings.Contains(th.logs.String(), "hard_timeout = false") {
		t.Fatalf("no load warning for the group:\n%s", th.logs.String())
	}
	s := th.state.Load()
	for _, a := range s.apps {
		if want := a.site == "strict"; a.pool.Module().Interruptible != want {
			t.Fatalf("site %s: module interruptible = %v", a.site, !want)
		}
	}
	trusted, strict := s.groups["trusted"], s.groups["strict"]

	if resp, body := th.do(t, "GET", "trusted.test", "/busy?ms=2000", nil); resp.StatusCode != 504 {
		t.Fatalf("busy: %d %s", resp.StatusCode, body)
	}
	if resp, body := th.do(t, "GET", "trusted.test", "/counter", nil); resp.StatusCode != 200 {
		t.Fatalf("while the runaway runs: %d %s", resp.StatusCode, body)
	}
	if resp, _ := th.do(t, "GET", "trusted.test", "/sleep", nil); resp.StatusCode != 504 {
		t.Fatalf("sleep: %d", resp.StatusCode)
	}
	waitGroupIdle(t, trusted)
	if st := trusted.Stats(); st.TimedOut != 2 || st.Trapped != 0 {
		t.Fatalf("trusted: %+v", st)
	}
	if resp, body := th.do(t, "GET", "trusted.test", "/busy?ms=1", nil); resp.StatusCode != 200 || body != "busy 1 ms" {
		t.Fatalf("after: %d %q", resp.StatusCode, body)
	}

	if resp, _ := th.do(t, "GET", "strict.test", "/spin", nil); resp.StatusCode != 504 {
		t.Fatalf("strict spin: %d", resp.StatusCode)
	}
	// Stopped, not abandoned: the instance is free as soon as the 504 is.
	if st := strict.Stats(); st.InUse != 0 || st.TimedOut != 1 {
		t.Fatalf("strict: %+v", st)
	}
}

func waitGroupIdle(t *testing.T, g *sandbox.Group) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for g.Stats().InUse != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still in use: %+v", g.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
