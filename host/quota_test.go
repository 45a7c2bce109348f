package host

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiskQuotaFill: a guest that fills its rw dir stops at its quota
// with ENOSPC, the disk past it stays free, the host and another site
// keep answering, /metrics counts the refusal, one log event names the
// site, app and dir, and a delete gives the room back.
func TestDiskQuotaFill(t *testing.T) {
	dir := t.TempDir()
	fill, other := filepath.Join(dir, "fill"), filepath.Join(dir, "other")
	os.Mkdir(fill, 0o755)
	os.Mkdir(other, 0o755)
	th := startHost(t, `
[server]
cache_dir = "{cache}"
access_log = "off"
admin = "127.0.0.1:0"
[[site]]
name = "filler"
hosts = ["filler.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
  dirs = [ { guest = "/data", host = "`+fill+`", mode = "rw", quota = "1MiB", quota_files = 100 } ]
[[site]]
name = "other"
hosts = ["other.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
  dirs = [ { guest = "/data", host = "`+other+`", mode = "rw", quota = "8MiB" } ]
`)
	for i := 0; i < 3; i++ {
		if _, body := th.do(t, "GET", "filler.test", "/fill", nil); body != "wrote 1048576: No space left on device" {
			t.Fatalf("fill %d: %q, want ENOSPC at 1 MiB", i, body)
		}
	}
	if fi, err := os.Stat(filepath.Join(fill, "fill")); err != nil || fi.Size() != 1<<20 {
		t.Fatalf("the file on disk: %v, %v; want 1 MiB", fi, err)
	}
	if _, body := th.do(t, "GET", "other.test", "/fill", nil); body != "wrote 8388608: No space left on device" {
		t.Fatalf("the other site: %q, want its own 8 MiB", body)
	}
	if resp, _ := th.do(t, "GET", "filler.test", "/env", nil); resp.StatusCode != 200 {
		t.Fatalf("the filler's next request: %d", resp.StatusCode)
	}
	if _, body := th.do(t, "GET", "filler.test", "/fill?rm=1", nil); body != "<nil>" {
		t.Fatalf("rm: %q", body)
	}
	if _, body := th.do(t, "GET", "filler.test", "/fill", nil); body != "wrote 1048576: No space left on device" {
		t.Fatalf("fill after the delete: %q, want the room back", body)
	}
	resp, err := http.Get("http://" + th.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`wasgi_disk_quota_exceeded_total{site="filler",app="main"} 4`, `wasgi_disk_quota_exceeded_total{site="other",app="main"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, b)
		}
	}
	if n := strings.Count(th.logs.String(), "disk quota"); n != 2 {
		t.Errorf("%d log events of a quota hit, want one per site:\n%s", n, th.logs.String())
	}
	if !strings.Contains(th.logs.String(), `"site":"filler","app":"main"`) || !strings.Contains(th.logs.String(), `"dir":"/data"`) {
		t.Errorf("the log event lacks site, app or dir:\n%s", th.logs.String())
	}
}
