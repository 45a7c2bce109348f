package host

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasgi/wasgi/internal/testwasm"
)

// TestFileLock: file_lock takes real locks on the host file: two apps'
// instances conflict as two processes would, a native process's POSIX
// lock (python3's fcntl.lockf) conflicts with both ways, a lock goes with
// its instance, a guest reaches only files under its dirs, and a file
// replaced at its path is the one locked from then on.
func TestFileLock(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3 for the native lock holder")
	}
	module := testwasm.BuildC(t, "testdata/lock/lock.c", true)
	data := t.TempDir()
	db := filepath.Join(data, "db.sqlite3")
	os.WriteFile(db, make([]byte, 64), 0o644)
	os.WriteFile(filepath.Join(data, "ro.txt"), nil, 0o644)
	site := func(name, extra string) string {
		return fmt.Sprintf(`
[[site]]
name = %q
hosts = ["%s.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = %q
  dirs = [{ guest = "/data", host = %q, mode = "rw" }, { guest = "/ro", host = %q }]
%s`, name, name, module, data, data, extra)
	}
	th := startHost(t, "[server]\ncache_dir = \"{cache}\"\naccess_log = \"off\"\n[groups.once]\nmax_requests = 1\n"+
		site("a", "")+site("b", "")+site("c", "  group = \"once\"\n"))
	lock := func(host, path string, cmd, typ, start, n int) string {
		t.Helper()
		resp, body := th.do(t, "GET", host+".test", fmt.Sprintf("/?path=%s&cmd=%d&type=%d&start=%d&len=%d", path, cmd, typ, start, n), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", host, resp.StatusCode, body)
		}
		return body
	}
	const set, test = 0, 1
	const unlock, read, write = 0, 1, 2
	steps := []struct {
		host, path         string
		cmd, typ, start, n int
		want, what         string
	}{
		{"a", "/data/db.sqlite3", set, write, 0, 1, "0", "a takes a write lock"},
		{"b", "/data/db.sqlite3", set, write, 0, 1, "-13", "b conflicts with a"},
		{"b", "/data/db.sqlite3", test, write, 0, 1, "2", "b sees a's write lock"},
		{"b", "/data/db.sqlite3", set, write, 1, 1, "0", "other bytes are free"},
		{"a", "/data/db.sqlite3", set, unlock, 0, 1, "0", "a drops it"},
		{"b", "/data/db.sqlite3", set, write, 0, 1, "0", "now b gets it"},
		{"a", "/data/db.sqlite3", set, read, 0, 1, "-13", "a cannot read-lock under b's write lock"},
		{"c", "/data/db.sqlite3", set, write, 20, 1, "0", "c locks, and its instance ends after the request"},
		{"a", "/data/db.sqlite3", set, write, 20, 1, "0", "the lock went with c's instance"},
		{"a", "/etc/passwd", set, read, 0, 1, "-8", "outside the dirs"},
		{"a", "/data/../../etc/passwd", set, read, 0, 1, "-8", "climbing out"},
		{"a", "/ro/ro.txt", set, write, 0, 1, "-8", "a write lock on a read-only dir"},
		{"a", "/ro/ro.txt", set, read, 0, 1, "0", "a read lock on a read-only dir"},
		{"a", "/data/missing", set, read, 0, 1, "-6", "no such file"},
	}
	for _, s := range steps {
		if got := lock(s.host, s.path, s.cmd, s.typ, s.start, s.n); got != s.want {
			t.Fatalf("%s: %s %s = %s, want %s", s.what, s.host, s.path, got, s.want)
		}
	}

	// A native process: its lockf conflicts with b's lock on byte 0, and
	// its own lock on byte 40 stops a, until the file is replaced.
	py := exec.Command("python3", "-c", `
import fcntl, os, sys
f = open(sys.argv[1], "r+")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0, os.SEEK_SET)
    print("byte 0 free", flush=True)
except OSError:
    print("byte 0 busy", flush=True)
fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 40, os.SEEK_SET)
print("holding byte 40", flush=True)
sys.stdin.read()
`, db)
	stdin, _ := py.StdinPipe()
	stdout, _ := py.StdoutPipe()
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); py.Wait() }()
	r := bufio.NewReader(stdout)
	first, _ := r.ReadString('\n')
	second, _ := r.ReadString('\n')
	if strings.TrimSpace(first) != "byte 0 busy" || strings.TrimSpace(second) != "holding byte 40" {
		t.Fatalf("native process: %q %q, want b's lock seen and byte 40 held", first, second)
	}
	if got := lock("a", "/data/db.sqlite3", set, write, 40, 1); got != "-13" {
		t.Fatalf("a against the native process's lock: %s, want -13", got)
	}
	if got := lock("a", "/data/db.sqlite3", test, write, 40, 1); got != "2" {
		t.Fatalf("a tests the native process's lock: %s, want 2", got)
	}

	// The file is replaced at its path (rm db.sqlite3 && migrate): locks go
	// to the new file, which the native process has not locked, and no
	// longer to the one the instances opened first.
	os.WriteFile(db+".new", make([]byte, 64), 0o644)
	if err := os.Rename(db+".new", db); err != nil {
		t.Fatal(err)
	}
	if got := lock("a", "/data/db.sqlite3", set, write, 40, 1); got != "0" {
		t.Fatalf("a on the file that replaced the native process's: %s, want 0", got)
	}
	if got := lock("b", "/data/db.sqlite3", test, write, 40, 1); got != "2" {
		t.Fatalf("b tests a's lock on the new file: %s, want 2", got)
	}
}
