package host

import (
	"strings"
	"testing"
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

// TestHardTimeoutDeprecated: hard_timeout = false loads with a warning
// and changes nothing: in both groups a runaway (a loop, a sleep, a long
// computation) gets 504 at request_timeout and its instance is free as
// soon as the 504 is, and the group serves on.
func TestHardTimeoutDeprecated(t *testing.T) {
	th := startHost(t, hardTimeoutSites)
	if !strings.Contains(th.logs.String(), `"group":"trusted"`) || !strings.Contains(th.logs.String(), "hard_timeout = false is deprecated") {
		t.Fatalf("no deprecation warning for the group:\n%s", th.logs.String())
	}
	s := th.state.Load()
	for _, site := range []string{"trusted", "strict"} {
		g := s.groups[site]
		for i, path := range []string{"/spin", "/sleep", "/busy?ms=20000"} {
			if resp, body := th.do(t, "GET", site+".test", path, nil); resp.StatusCode != 504 {
				t.Fatalf("%s %s: %d %s", site, path, resp.StatusCode, body)
			}
			// Stopped, not abandoned.
			if st := g.Stats(); st.InUse != 0 || st.TimedOut != int64(i+1) || st.Trapped != 0 {
				t.Fatalf("%s after %s: %+v", site, path, st)
			}
		}
		if resp, body := th.do(t, "GET", site+".test", "/busy?ms=1", nil); resp.StatusCode != 200 || body != "busy 1 ms" {
			t.Fatalf("%s after: %d %q", site, resp.StatusCode, body)
		}
	}
}
