package testwasm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasgi/wasgi/internal/setup"
	"github.com/wasgi/wasgi/runtimes/python"
)

var pythonOnce struct {
	sync.Once
	dir string
	msg string // why there is none
}

// PythonRuntime returns the folder of the Python runtime
// (runtimes/python/build.sh's). Tests never build it: when it is not
// built, PythonRuntime skips the test, or fails it where the tools are
// required (Required), with one message for every test of the process,
// which names the setup command and what the build would install (see
// PythonMissing).
//
// It opens the setup stamp (setup.Observe) and stats the runtime's files,
// so that the go command's test cache reruns the test once build.sh has
// changed the runtime.
func PythonRuntime(tb testing.TB) string {
	tb.Helper()
	pythonOnce.Do(func() {
		pythonOnce.dir, pythonOnce.msg = pythonRuntime(Root(tb))
	})
	if pythonOnce.msg != "" {
		Missing(tb, pythonOnce.msg)
	}
	return pythonOnce.dir
}

// pythonRuntime finds the runtime, or says why there is none.
func pythonRuntime(root string) (dir, msg string) {
	setup.Observe()
	dir, err := python.RuntimeDir()
	if err == nil {
		os.Stat(filepath.Join(dir, python.Lib, ".done")) // build.sh's mark of an installed standard library
		return dir, ""
	}
	return "", PythonMissing(root)
}

// PythonMissing returns the message of a test skipped for want of the
// Python runtime: where it was looked for, the command that builds it,
// and the Debian packages its build lacks (runtimes/python/build.sh
// --check), all at once.
func PythonMissing(root string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "the Python runtime is not built (no %s with %s in %s): %s builds it (a few minutes)",
		python.Module, python.Lib, strings.Join(python.Candidates(), ", "), setup.Command)
	out, err := exec.Command("bash", filepath.Join(root, "runtimes", "python", "build.sh"), "--check").Output()
	if pkgs := strings.Fields(string(out)); err != nil && len(pkgs) > 0 {
		fmt.Fprintf(&b, ", after installing the Debian packages its build needs and lacks here: %s", strings.Join(pkgs, " "))
	}
	fmt.Fprintf(&b, " (or: runtimes/python/build.sh, or set %s to a built runtime's folder)", python.EnvDir)
	return b.String()
}

// Required reports whether a test that lacks a tool or a service must
// fail rather than skip: under WASGI_REQUIRE_SERVICES=1 (.ci/run sets it,
// having installed and built everything) or CI set.
func Required() bool {
	return os.Getenv("WASGI_REQUIRE_SERVICES") == "1" || os.Getenv("CI") != ""
}

// Missing skips the test for want of a tool, or fails it where the tools
// are required (Required). It opens the setup stamp (setup.Observe), so
// that a cached skip reruns once `go run ./examples/run setup` has
// installed what was missing.
func Missing(tb testing.TB, why string) {
	tb.Helper()
	setup.Observe()
	if Required() {
		tb.Fatalf("testwasm: %s (required: WASGI_REQUIRE_SERVICES=1 or CI is set)", why)
		return
	}
	tb.Skip("testwasm: " + why)
}
