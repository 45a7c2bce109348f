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

	"github.com/wasgi/wasgi/internal/fakedeb"

	"github.com/wasgi/wasgi/internal/testtree"
	"github.com/wasgi/wasgi/internal/testwasm"
)

// TestMain runs the runner itself, main, when WASGI_RUN_AS_MAIN holds its
// arguments: the setup tests run it so, as a child, in a copy of the tree.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("WASGI_RUN_AS_MAIN"); ok {
		os.Args = append([]string{"run"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

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

// fakeDebian is a pretend Debian (internal/fakedeb) missing the given
// packages: the environment that puts it on PATH, and its call log.
func fakeDebian(t *testing.T, missing ...string) (env []string, calls string) {
	t.Helper()
	dir, calls := fakedeb.Install(t, missing...)
	return []string{"PATH=" + fakedeb.Path(dir)}, calls
}

// runSetupChild runs `go run ./examples/run setup args` as this test
// binary, in a copy of the tree, with no Python runtime and no Django
// fetched (an empty WASGI_PYTHON and XDG_CACHE_HOME), and returns its
// output and exit code.
func runSetupChild(t *testing.T, env []string, args string) (string, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Dir = testtree.Copy(t, testwasm.Root(t), "")
	cmd.Env = append(os.Environ(), append(env, "WASGI_RUN_AS_MAIN="+args,
		"WASGI_PYTHON="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())...)
	out, err := cmd.CombinedOutput()
	code := 0
	if x, ok := err.(*exec.ExitError); ok {
		code = x.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cmd.Dir, ".wasgi-setup")); err == nil {
		t.Errorf("setup wrote the stamp though it installed nothing")
	}
	return string(out), code
}

// TestSetupDryRun: `setup -n` lists every missing Debian package at once,
// by what needs it, with the one command that installs them, says that
// the runtime and Django are missing, exits 1, and installs nothing.
func TestSetupDryRun(t *testing.T) {
	env, calls := fakeDebian(t, "clang", "rustc", "postgresql", "chromium")
	out, code := runSetupChild(t, env, "setup -n")
	sudo := ""
	if os.Geteuid() != 0 {
		sudo = "sudo "
	}
	for _, want := range []string{
		"  missing  the C guests (conformance kit, examples/c-hello): clang\n",
		"  missing  the Rust guests (conformance kit, examples/rust-hello): rustc\n",
		"  missing  building the Python runtime (runtimes/python/build.sh): clang\n",
		"  ok       the Python tests and examples (Django 3.2, Flask, PyMySQL, redis-py): python3-django python3-flask python3-pymysql python3-redis\n",
		"  missing  the database tests (internal/testsvc): postgresql\n",
		"  missing  the browser test (host/browser_test.go): chromium\n",
		"missing Debian packages (4): clang rustc postgresql chromium\n",
		"to install them: " + sudo + "apt-get update -qq && " + sudo + "apt-get install -y clang rustc postgresql chromium\n",
		"== the Python runtime (runtimes/python/build.sh) ==\nnot built: ",
		"== Django 5.2 from Debian sid (runtimes/python/packages.sh) ==\nnot fetched into ",
		"not ready: run go run ./examples/run setup (without -n)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if b, err := os.ReadFile(calls); err == nil {
		t.Errorf("setup -n ran apt-get:\n%s", b)
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestSetupSaysWhatItInstalls: `setup` prints the apt-get command before
// running exactly it, and stops, naming it, when it fails: nothing is
// built after a failed install.
func TestSetupSaysWhatItInstalls(t *testing.T) {
	env, calls := fakeDebian(t, "redis-server", "fonts-nanum")
	out, code := runSetupChild(t, env, "setup")
	sudo := ""
	if os.Geteuid() != 0 {
		sudo = "sudo "
	}
	cmdline := sudo + "apt-get update -qq && " + sudo + "apt-get install -y redis-server fonts-nanum"
	if !strings.Contains(out, "installing them: "+cmdline+"\n") || !strings.Contains(out, "run it yourself, then me again: "+cmdline+"\n") {
		t.Errorf("output does not announce, then name after the failure, %q:\n%s", cmdline, out)
	}
	if code != 1 || strings.Contains(out, "== the Python runtime") {
		t.Errorf("exit %d, want 1 and nothing built:\n%s", code, out)
	}
	b, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(l, "sudo ") {
			got = append(got, l)
		}
	}
	if want := "apt-get update -qq|apt-get install -y redis-server fonts-nanum"; strings.Join(got, "|") != want {
		t.Errorf("apt-get calls %q, want %q", got, want)
	}
}
