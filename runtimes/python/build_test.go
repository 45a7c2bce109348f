package python

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasgi/wasgi/internal/fakedeb"
)

// fakeDebian puts a pretend Debian (internal/fakedeb) missing the given
// packages on PATH and returns its call log.
func fakeDebian(t *testing.T, missing ...string) (calls string) {
	t.Helper()
	dir, calls := fakedeb.Install(t, missing...)
	t.Setenv("PATH", fakedeb.Path(dir))
	return calls
}

// buildSh runs build.sh with args, its output folder a new empty one, and
// returns its stdout, stderr and exit code.
func buildSh(t *testing.T, env []string, args ...string) (stdout, stderr string, code int, out string) {
	t.Helper()
	out = filepath.Join(t.TempDir(), "python")
	cmd := exec.Command("bash", append([]string{"build.sh"}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{EnvDir + "=" + out}, env...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if x, ok := err.(*exec.ExitError); ok {
		code = x.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code, out
}

// TestBuildNeverInstallsWhenTold: with clang, lld and llvm missing,
// `build.sh --check` and WASGI_NO_INSTALL=1 name all three at once, call
// no apt-get and build nothing, as `go run ./examples/run setup` needs
// (#22: go test ran apt-get install as root without saying so).
func TestBuildNeverInstallsWhenTold(t *testing.T) {
	calls := fakeDebian(t, "clang", "lld", "llvm")
	noAptGet := func(t *testing.T) {
		t.Helper()
		if b, err := os.ReadFile(calls); err == nil {
			t.Fatalf("apt-get was called:\n%s", b)
		}
	}
	t.Run("--check", func(t *testing.T) {
		stdout, stderr, code, out := buildSh(t, nil, "--check")
		if code != 1 || stdout != "clang\nlld\nllvm\n" || !strings.Contains(stderr, "missing Debian packages: clang lld llvm") {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 1, the three packages one a line, and a sentence naming them", code, stdout, stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("--check made %s", out)
		}
		noAptGet(t)
	})
	t.Run("WASGI_NO_INSTALL=1", func(t *testing.T) {
		_, stderr, code, out := buildSh(t, []string{"WASGI_NO_INSTALL=1"})
		if code != 3 {
			t.Fatalf("exit %d, want 3:\n%s", code, stderr)
		}
		for _, want := range []string{"not installed: clang lld llvm\n", "apt-get install -y clang lld llvm\n", "go run ./examples/run setup"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("made %s", out)
		}
		noAptGet(t)
	})
	t.Run("--deps", func(t *testing.T) {
		stdout, _, code, _ := buildSh(t, nil, "--deps")
		for _, p := range []string{"clang", "lld", "llvm", "wasi-libc", "libclang-rt-14-dev-wasm32", "make", "python3.11", "xz-utils"} {
			if !strings.Contains("\n"+stdout, "\n"+p+"\n") {
				t.Errorf("--deps (exit %d) lacks %s:\n%s", code, p, stdout)
			}
		}
		noAptGet(t)
	})
}

// TestBuildSaysWhatItInstalls: run by hand, build.sh prints the apt-get
// command, with every missing package, before running exactly that.
func TestBuildSaysWhatItInstalls(t *testing.T) {
	calls := fakeDebian(t, "clang", "wasi-libc")
	_, stderr, code, out := buildSh(t, nil)
	if code == 0 {
		t.Fatalf("went on after a failed apt-get install:\n%s", stderr)
	}
	sudo := ""
	if os.Geteuid() != 0 {
		sudo = "sudo "
	}
	said := "==> running: " + sudo + "apt-get update -qq && " + sudo + "apt-get install -y clang wasi-libc\n"
	if !strings.Contains(stderr, "==> installing the Debian packages the build needs: clang wasi-libc\n"+said) {
		t.Fatalf("stderr does not announce %q:\n%s", said, stderr)
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
	if want := "apt-get update -qq|apt-get install -y clang wasi-libc"; strings.Join(got, "|") != want {
		t.Errorf("apt-get calls %q, want %q", got, want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("made %s before its packages were in", out)
	}
}
