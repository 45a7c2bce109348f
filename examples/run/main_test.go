package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasgi/wasgi/internal/testtree"
	"github.com/wasgi/wasgi/internal/testwasm"
)

// TestStopLeavesNothing runs the README's command, `go run ./examples/run`,
// in a copy of the repository, waits for the examples to answer, stops the
// top process (SIGTERM or SIGKILL to its PID, or SIGINT to its group as
// Ctrl-C does) and checks that every process
// it started is gone and the port is free.
func TestStopLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds wasgi and the examples")
	}
	root := testtree.Copy(t, testwasm.Root(t), "")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			addr := freeAddr(t)
			var out bytes.Buffer
			cmd := exec.Command("go", "run", "./examples/run", "-listen", addr)
			cmd.Dir = root
			cmd.Stdout, cmd.Stderr = &out, &out
			// Its own group, as a terminal's job is: the signal goes to the top PID only.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			defer func() {
				for _, pid := range started(root) { // a failed test leaves no orphans either
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}()
			waitOK(t, addr, done, &out)
			if len(started(root)) == 0 {
				t.Fatal("no process found under the copy: the check cannot see them")
			}
			if sig == syscall.SIGINT {
				syscall.Kill(-cmd.Process.Pid, sig) // Ctrl-C: the terminal signals the whole job
			} else {
				cmd.Process.Signal(sig)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				left := started(root)
				if len(left) == 0 && portFree(addr) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after %v to the top process: still running %v (%s), port free %v\n%s",
						sig, left, cmdlines(left), portFree(addr), out.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("go run did not exit")
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func waitOK(t *testing.T, addr string, exited <-chan struct{}, out *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute) // builds wasgi and five examples
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Host = "hello.localhost"
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("exited before serving:\n%s", out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("no 200 from %s:\n%s", addr, out.String())
}

// started lists the processes whose working folder or command line is
// under root: the runner (its cwd), wasgi (its binary is in the copy).
func started(root string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == os.Getpid() {
			continue
		}
		if st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); strings.Contains(string(st), ") Z ") {
			continue // a zombie holds nothing
		}
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		cl, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if cwd == root || strings.HasPrefix(cwd, root+"/") || bytes.Contains(cl, []byte(root+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func cmdlines(pids []int) string {
	var b strings.Builder
	for _, pid := range pids {
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		fmt.Fprintf(&b, "%d: %s; ", pid, bytes.ReplaceAll(cl, []byte{0}, []byte{' '}))
	}
	return b.String()
}

// TestMissingPackages: each Python example's Debian packages are checked
// on their own, so Django being there no longer hides Flask missing (the
// Flask example then answered 500 to every request).
func TestMissingPackages(t *testing.T) {
	dist := t.TempDir()
	for _, d := range []string{"django", "asgiref", "sqlparse", "jinja2", "markupsafe", "click", "itsdangerous"} {
		if err := os.Mkdir(filepath.Join(dist, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pkgs, why := missingPackages(dist)
	if strings.Join(pkgs, " ") != "python3-flask python3-werkzeug" || !strings.Contains(strings.Join(why, ", "), "python3-flask (the Flask site)") {
		t.Fatalf("missing %q (%q), want python3-flask and python3-werkzeug for the Flask site", pkgs, why)
	}
	for _, d := range []string{"flask", "werkzeug"} {
		os.Mkdir(filepath.Join(dist, d), 0o755)
	}
	if pkgs, _ := missingPackages(dist); len(pkgs) != 0 {
		t.Fatalf("all there, still missing %q", pkgs)
	}
}
