package host

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPreopensNeverLeaveTheirRoot: symlinks in a preopened folder, planted
// by the host side or by the guest itself, never lead out of it; nor do
// "..", absolute paths or other sites' folders.
func TestPreopensNeverLeaveTheirRoot(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(filepath.Join(data, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "outside.txt"), []byte("OUTSIDE-SECRET"), 0o644)
	os.WriteFile(filepath.Join(data, "inside.txt"), []byte("inside"), 0o644)
	os.Symlink(filepath.Join(dir, "outside.txt"), filepath.Join(data, "abs"))
	os.Symlink("../outside.txt", filepath.Join(data, "rel"))
	os.Symlink("../inside.txt", filepath.Join(data, "sub", "up"))
	os.Symlink("..", filepath.Join(data, "sub", "parent"))
	th := startHost(t, `
[server]
cache_dir = "{cache}"
access_log = "off"
[[site]]
name = "s"
hosts = ["*"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
  dirs = [ { guest = "/data", host = "`+data+`", mode = "rw" } ]
`)
	for _, n := range []string{"/data/abs", "/data/rel", "/data/../outside.txt", "../outside.txt", "/etc/passwd", "/data/sub/parent/../outside.txt", "/data/sub/parent/abs"} {
		_, body := th.do(t, "GET", "x", "/file?name="+url.QueryEscape(n), nil)
		if strings.Contains(body, "OUTSIDE-SECRET") || strings.Contains(body, "root:") {
			t.Errorf("%s escaped: %q", n, body)
		}
	}
	// Links that stay inside the folder work.
	for _, n := range []string{"/data/inside.txt", "/data/sub/up", "/data/sub/parent/inside.txt"} {
		if _, body := th.do(t, "GET", "x", "/file?name="+url.QueryEscape(n), nil); body != "inside" {
			t.Errorf("%s: %q", n, body)
		}
	}
	// The guest plants its own links.
	for _, target := range []string{filepath.Join(dir, "outside.txt"), "../outside.txt", "/etc/passwd"} {
		_, body := th.do(t, "GET", "x", "/plant?target="+url.QueryEscape(target), nil)
		if strings.Contains(body, "OUTSIDE-SECRET") || strings.Contains(body, "root:") {
			t.Errorf("planted %s escaped: %q", target, body)
		}
	}
}
