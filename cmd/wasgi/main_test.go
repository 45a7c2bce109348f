package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasgi/wasgi/host"
	"github.com/wasgi/wasgi/internal/testwasm"
)

func TestCheckReportsEveryProblem(t *testing.T) {
	cases := []struct {
		file string
		want []string
	}{
		{"typo.toml", []string{"typo.toml:10:3: site.app.modul", "typo.toml:", "site.app.module"}},
		{"many.toml", []string{"many.toml:3:", "server.max_body", "many.toml:7:", "min_instances", "many.toml:15:", "missing.wasm", "many.toml:16:", "site.app.group"}},
		{"notwasm.toml", []string{"notwasm.wasm", "compile"}},
		{"does-not-exist.toml", []string{"does-not-exist.toml"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"check", "-c", filepath.Join("testdata", tc.file)}, &stdout, &stderr, nil)
			if code == 0 {
				t.Fatalf("exit 0 for a bad config; stdout %s", stdout.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb, nil); code != 2 {
		t.Fatalf("no args: exit %d", code)
	}
	if code := run([]string{"frobnicate"}, &out, &errb, nil); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
	out.Reset()
	if code := run([]string{"help"}, &out, &errb, nil); code != 0 || !strings.Contains(out.String(), "wasgi new go|c|python DIR") {
		t.Fatalf("help: %d, does not list new: %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"version"}, &out, &errb, nil); code != 0 || !strings.HasPrefix(out.String(), "wasgi ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
}

// TestHelp: -h, -help and --help print the command's usage and flags to
// stdout and exit 0, as asked for; a bad flag (one of another command
// too) prints them to stderr and exits 2.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the usage
	}{
		{[]string{"serve", "--help"}, "-listen"},
		{[]string{"serve", "-h"}, "usage: wasgi serve"},
		{[]string{"check", "--help"}, "usage: wasgi check [-c wasgi.toml]"},
		{[]string{"sites", "-help"}, "-c string"},
		{[]string{"manage", "--help"}, "-timeout"},
		{[]string{"import", "apache", "--help"}, "-o string"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb, nil); code != 0 {
				t.Fatalf("exit %d; stderr %q", code, errb.String())
			}
			if !strings.Contains(out.String(), tc.want) || errb.Len() > 0 {
				t.Fatalf("stdout %q lacks %q; stderr %q", out.String(), tc.want, errb.String())
			}
		})
	}
	for _, args := range [][]string{{"serve", "-bogus"}, {"check", "-listen", "127.0.0.1:0"}, {"frobnicate", "-h"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb, nil); code != 2 || out.Len() > 0 || !strings.Contains(errb.String(), "usage: wasgi") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and the usage on stderr", args, code, out.String(), errb.String())
		}
	}
}

// writeGoodConfig writes a config serving the test guest on a free port.
func writeGoodConfig(t *testing.T, settings string) string {
	dir := t.TempDir()
	cfg := `
[server]
listen = ["127.0.0.1:0"]
cache_dir = "` + testwasm.CacheDir(t) + `"
shutdown_timeout = "5s"
access_log = "off"

[[site]]
name = "a"
hosts = ["*"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "` + testwasm.Build(t, "testdata/guest") + `"
  env = { SETTINGS = "` + settings + `" }
`
	path := filepath.Join(dir, "wasgi.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckAndSitesOnGoodConfig(t *testing.T) {
	path := writeGoodConfig(t, "v1")
	var out, errb bytes.Buffer
	if code := run([]string{"check", "-c", path}, &out, &errb, nil); code != 0 {
		t.Fatalf("check: exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"sites", "-c", path}, &out, &errb, nil); code != 0 || !strings.Contains(out.String(), "main") {
		t.Fatalf("sites: exit %d: %s", code, out.String())
	}
}

// TestServeSignals runs `wasgi serve`, reloads it with SIGHUP (a bad config
// is refused, a good one taken) and stops it with SIGTERM.
func TestServeSignals(t *testing.T) {
	path := writeGoodConfig(t, "v1")
	ready := make(chan *host.Host, 1)
	done := make(chan int, 1)
	var stderr syncWriter
	go func() { done <- run([]string{"serve", "-c", path}, io.Discard, &stderr, ready) }()
	var h *host.Host
	select {
	case h = <-ready:
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	}
	url := "http://" + h.Addrs()[0].String() + "/"
	settings := func() string {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "SETTINGS="); ok {
				return v
			}
		}
		return ""
	}
	if got := settings(); got != "v1" {
		t.Fatalf("settings = %q", got)
	}
	good, _ := os.ReadFile(path)
	reload := func(content []byte) {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		before := strings.Count(stderr.String(), "reload")
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		for deadline := time.Now().Add(10 * time.Second); strings.Count(stderr.String(), "reload") == before; {
			if time.Now().After(deadline) {
				t.Fatal("no reload logged")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	reload([]byte(strings.Replace(string(good), "module =", "modul =", 1)))
	if !strings.Contains(stderr.String(), "reload refused") || !strings.Contains(stderr.String(), "site.app.modul") {
		t.Fatalf("bad reload not logged:\n%s", stderr.String())
	}
	if got := settings(); got != "v1" {
		t.Fatalf("after a bad reload settings = %q", got)
	}
	reload([]byte(strings.Replace(string(good), `"v1"`, `"v2"`, 1)))
	if got := settings(); got != "v2" {
		t.Fatalf("after reload settings = %q", got)
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after SIGTERM", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

// TestServeReopenLogs: SIGUSR1 logs "access log reopened", also without
// an access_log_file; after the file was moved, lines go to a new file at
// its path; when the path cannot be opened, "reopen logs" says why and
// the old file keeps the lines.
func TestServeReopenLogs(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	path := writeGoodConfig(t, "v1")
	good, _ := os.ReadFile(path)
	withFile := strings.Replace(string(good), `access_log = "off"`, `access_log_file = "`+logPath+`"`, 1)
	for _, tc := range []struct {
		name, config string
	}{{"stdout", strings.Replace(string(good), `access_log = "off"`, `access_log = "combined"`, 1)}, {"file", withFile}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(tc.config), 0o644); err != nil {
				t.Fatal(err)
			}
			ready := make(chan *host.Host, 1)
			done := make(chan int, 1)
			var stderr syncWriter
			go func() { done <- run([]string{"serve", "-c", path}, io.Discard, &stderr, ready) }()
			var h *host.Host
			select {
			case h = <-ready:
			case code := <-done:
				t.Fatalf("serve exited %d: %s", code, stderr.String())
			}
			defer func() {
				syscall.Kill(os.Getpid(), syscall.SIGTERM)
				<-done
			}()
			get := func() {
				resp, err := http.Get("http://" + h.Addrs()[0].String() + "/")
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			usr1 := func(want string) {
				t.Helper()
				before := strings.Count(stderr.String(), want)
				syscall.Kill(os.Getpid(), syscall.SIGUSR1)
				for deadline := time.Now().Add(10 * time.Second); strings.Count(stderr.String(), want) == before; {
					if time.Now().After(deadline) {
						t.Fatalf("SIGUSR1: no %q logged:\n%s", want, stderr.String())
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			usr1(`"message":"access log reopened"`)
			if tc.name == "stdout" {
				return
			}
			get()
			if err := os.Rename(logPath, logPath+".1"); err != nil {
				t.Fatal(err)
			}
			get() // still into the moved file
			usr1(`"message":"access log reopened"`)
			get()
			lines := func(p string) int {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				return strings.Count(string(b), "\n")
			}
			if n, m := lines(logPath+".1"), lines(logPath); n != 2 || m != 1 {
				t.Fatalf("%d lines in the moved file, %d in the new one; want 2 and 1", n, m)
			}
			// A path that cannot be opened: the old file stays in use.
			if err := os.Remove(logPath); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(logPath, 0o755); err != nil {
				t.Fatal(err)
			}
			usr1(`"message":"reopen logs"`)
			if !strings.Contains(stderr.String(), `"level":"error"`) || !strings.Contains(stderr.String(), "the old file stays in use") {
				t.Fatalf("reopen failure not logged as an error with its cause:\n%s", stderr.String())
			}
		})
	}
}

type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
