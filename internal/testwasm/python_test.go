package testwasm

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasgi/wasgi/internal/setup"
	"github.com/wasgi/wasgi/runtimes/python"
)

// recorder is a testing.TB that records a skip or a failure instead.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skip(args ...any)                  { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

// noPython points WASGI_PYTHON at an empty folder and puts on PATH a
// dpkg-query that lists clang and lld as not installed.
func noPython(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	t.Setenv(python.EnvDir, dir)
	bin := t.TempDir()
	script := "#!/bin/bash\ncase \"${@: -1}\" in clang|lld) exit 1 ;; esac\nprintf installed\n"
	if err := os.WriteFile(filepath.Join(bin, "dpkg-query"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

// TestPythonRuntimeMissing: with no runtime, the Python tests skip with
// one message that names the setup command, where the runtime was looked
// for, and every package its build lacks; where the tools are required
// they fail with it instead.
func TestPythonRuntimeMissing(t *testing.T) {
	dir := noPython(t)
	_, msg := pythonRuntime(Root(t))
	for _, want := range []string{"the Python runtime is not built", dir, "go run ./examples/run setup builds it", "lacks here: clang lld ("} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	t.Run("skip", func(t *testing.T) {
		t.Setenv("CI", "")
		t.Setenv("WASGI_REQUIRE_SERVICES", "")
		r := &recorder{TB: t}
		Missing(r, msg)
		if r.skipped != "testwasm: "+msg || r.failed != "" {
			t.Errorf("skipped %q, failed %q", r.skipped, r.failed)
		}
	})
	t.Run("required", func(t *testing.T) {
		t.Setenv("CI", "")
		t.Setenv("WASGI_REQUIRE_SERVICES", "1")
		r := &recorder{TB: t}
		Missing(r, msg)
		if r.skipped != "" || !strings.Contains(r.failed, msg) {
			t.Errorf("skipped %q, failed %q", r.skipped, r.failed)
		}
	})
}

// TestCacheSeesNewRuntime is the experiment behind the setup stamp, run
// on a copy of this package: the go command's test cache does not notice
// a runtime built outside the module (a skip stays "(cached)"), and does
// once the stamp in the module changes, as build.sh changes it.
func TestCacheSeesNewRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs go test five times")
	}
	root := Root(t)
	mod := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum", "internal/setup/setup.go", "internal/testwasm/testwasm.go", "internal/testwasm/python.go",
		"runtimes/python/layout.go", "runtimes/python/build.sh"} {
		copyFile(t, filepath.Join(root, f), filepath.Join(mod, f))
	}
	probe := "package testwasm\n\nimport \"testing\"\n\nfunc TestProbe(t *testing.T) { t.Log(PythonRuntime(t)) }\n"
	if err := os.WriteFile(filepath.Join(mod, "internal", "testwasm", "probe_test.go"), []byte(probe), 0o644); err != nil {
		t.Fatal(err)
	}
	rt := t.TempDir()
	goTest := func(want string) {
		t.Helper()
		cmd := exec.Command(Go(), "test", "-run=^TestProbe$", "./internal/testwasm")
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), python.EnvDir+"="+rt, "CI=", "WASGI_REQUIRE_SERVICES=", "GOFLAGS=-mod=mod", "GOPROXY=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go test: %v\n%s", err, out)
		}
		if cached := strings.Contains(string(out), "(cached)"); cached != (want == "cached") {
			t.Fatalf("want %s:\n%s", want, out)
		}
	}
	goTest("run")
	goTest("cached")
	// The runtime appears, outside the module: the go command does not see it.
	os.MkdirAll(filepath.Join(rt, python.Lib), 0o755)
	for _, f := range []string{python.Module, python.Lib + "/os.py", python.Lib + "/.done"} {
		if err := os.WriteFile(filepath.Join(rt, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goTest("cached")
	// build.sh's last step: the stamp in the module changes.
	if err := setup.Stamp(mod, "python-runtime", rt+" 0 0"); err != nil {
		t.Fatal(err)
	}
	goTest("run")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	os.MkdirAll(filepath.Dir(to), 0o755)
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
}
