package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasgi/wasgi/host"
	"github.com/wasgi/wasgi/internal/testwasm"
)

// TestNew: `wasgi new KIND DIR` writes an app that builds with the
// command its README gives (Go offline, GOPROXY=off, through the SDK copy
// it writes), that `wasgi check` accepts and that `wasgi serve`, on its
// own wasgi.toml, serves with the skeleton's answer.
func TestNew(t *testing.T) {
	cases := []struct {
		kind, build, want string
	}{
		{"go", "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o app.wasm .", "Hello from hello-app, a wasgi app in Go! You asked for /some/path\n"},
		{"c", "clang --target=wasm32-wasi -mexec-model=reactor -O2 -o app.wasm main.c", "Hello from hello-app, a wasgi app in C! You asked for /some/path\n"},
		{"python", "", "Hello from hello-app, a wasgi app in Python! You asked for /some/path\n"},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			if c.kind == "python" {
				testwasm.PythonRuntime(t)
			}
			dir := filepath.Join(t.TempDir(), "Hello-App")
			var out, errb bytes.Buffer
			if code := run([]string{"new", c.kind, dir}, &out, &errb, nil); code != 0 {
				t.Fatalf("wasgi new %s: exit %d: %s", c.kind, code, errb.String())
			}
			readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []string{"wasgi check -c wasgi.toml\n", "wasgi serve -c wasgi.toml\n", c.build + "\n"} {
				if !strings.Contains(string(readme), w) {
					t.Errorf("README.md lacks %q:\n%s", w, readme)
				}
			}
			switch c.kind {
			case "go":
				// The README's line, offline: no proxy, no workspace, and
				// go.mod as written (-mod=readonly).
				cmd := exec.Command(testwasm.Go(), strings.Fields(c.build)[3:]...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOPROXY=off", "GOWORK=off", "GOFLAGS=-mod=readonly")
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s: %v\n%s", c.build, err, b)
				}
			case "c":
				testwasm.Clang(t, dir, strings.Fields(c.build)[1:]...)
			}

			config := filepath.Join(dir, "wasgi.toml")
			out.Reset()
			if code := run([]string{"check", "-c", config}, &out, &errb, nil); code != 0 {
				t.Fatalf("wasgi check: exit %d: %s", code, errb.String())
			}
			resp, body := serveOnce(t, config, "/some/path")
			if resp.StatusCode != 200 || body != c.want {
				t.Fatalf("GET /some/path: %d %q, want 200 %q", resp.StatusCode, body, c.want)
			}
		})
	}
}

// serveOnce runs `wasgi serve -c config` on 127.0.0.1:0, GETs target
// from it and stops it with SIGTERM.
func serveOnce(t *testing.T, config, target string) (*http.Response, string) {
	t.Helper()
	ready := make(chan *host.Host, 1)
	done := make(chan int, 1)
	var stderr syncWriter
	go func() {
		done <- run([]string{"serve", "-c", config, "-listen", "127.0.0.1:0"}, io.Discard, &stderr, ready)
	}()
	var h *host.Host
	select {
	case h = <-ready:
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	}
	defer func() {
		syscall.Kill(os.Getpid(), syscall.SIGTERM) // serve has the signal: see TestServeSignals
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d after SIGTERM: %s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop on SIGTERM")
		}
	}()
	resp, err := http.Get("http://" + h.Addrs()[0].String() + target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestNewRefuses: wasgi new writes nothing into a folder that is not
// empty, nor for a kind it does not know, and says why.
func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main // mine\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"new", "go", dir}, &out, &errb, nil); code != 1 || !strings.Contains(errb.String(), dir+" is not empty: nothing written") {
		t.Fatalf("into a non-empty folder: exit %d, stderr %q", code, errb.String())
	}
	entries, _ := os.ReadDir(dir)
	if b, _ := os.ReadFile(filepath.Join(dir, "main.go")); len(entries) != 1 || string(b) != "package main // mine\n" {
		t.Fatalf("the folder changed: %d entries, main.go %q", len(entries), b)
	}
	errb.Reset()
	fresh := filepath.Join(t.TempDir(), "app")
	if code := run([]string{"new", "rust", fresh}, &out, &errb, nil); code != 2 || !strings.Contains(errb.String(), `unknown kind "rust"`) {
		t.Fatalf("an unknown kind: exit %d, stderr %q", code, errb.String())
	}
	if code := run([]string{"new", "go"}, &out, &errb, nil); code != 2 {
		t.Fatalf("no DIR: exit %d", code)
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Fatal("a folder was made for an unknown kind")
	}
}

// TestSDKGoVersion: the go line written for the SDK's copy and the new
// app is the module's own.
func TestSDKGoVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testwasm.Root(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\ngo "+sdkGoVersion+"\n") {
		t.Fatalf("sdkGoVersion %s is not the go line of go.mod:\n%s", sdkGoVersion, b)
	}
}
