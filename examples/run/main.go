// Command run builds the example apps into examples/build and serves
// examples/wasgi.toml with wasgi: `go run ./examples/run` from the
// repository root, nothing else to install.
//
// `go run ./examples/run python` serves the Python examples instead
// (examples/python/wasgi.toml): it installs the Debian packages each
// example imports (python3-django for the Django sites, python3-flask
// for the Flask one) and those the runtime's build needs, when missing,
// printing the one apt-get command first; builds the Python runtime once
// with runtimes/python/build.sh (a few minutes); and collects Django's
// static files.
//
// `go run ./examples/run setup` prepares what the tests need instead, and
// serves nothing (see setupUsage).
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/wasgi/wasgi/host"
	"github.com/wasgi/wasgi/internal/setup"
)

// apps are the example packages and the .wasm each becomes.
var apps = [][2]string{
	{"./examples/hello", "hello.wasm"},
	{"./examples/two-sites/app", "two-sites.wasm"},
	{"./examples/subpath", "subpath.wasm"},
	{"./examples/django-like/app", "django-like.wasm"},
	{"./examples/auth/app", "auth.wasm"},
}

func main() {
	if _, err := os.Stat("examples/wasgi.toml"); err != nil {
		fail("run me from the repository root: go run ./examples/run")
	}
	config := "examples/wasgi.toml"
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "setup" {
		runSetup(args[1:])
		return
	}
	if len(args) > 0 && args[0] == "python" {
		config, args = "examples/python/wasgi.toml", args[1:]
		buildWasgi()
		preparePython()
	}
	buildWasgi()
	for _, a := range apps {
		out := filepath.Join("examples", "build", a[1])
		fmt.Fprintf(os.Stderr, "building %s -> %s\n", a[0], out)
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, a[0])
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fail(err.Error())
		}
	}
	// wasgi runs as a child of this process, never under `go run`: a
	// signal to this process reaches it, and it dies with this process.
	cmd := exec.Command(wasgi, append([]string{"serve", "-c", config}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr // no stdin: its own process group is not the terminal's
	os.Exit(serve(cmd))
}

// wasgi is the wasgi binary buildWasgi makes.
var wasgi = filepath.Join("examples", "build", "bin", "wasgi")

// buildWasgi builds ./cmd/wasgi into examples/build/bin.
func buildWasgi() {
	fmt.Fprintf(os.Stderr, "building ./cmd/wasgi -> %s\n", wasgi)
	run("", "go", "build", "-o", wasgi, "./cmd/wasgi")
}

// serve runs wasgi until it exits, and returns its exit code. The child
// has its own process group, so SIGINT (Ctrl-C), SIGTERM, SIGHUP and
// SIGUSR1 reach it once, passed on by this process; on Linux it also gets
// SIGTERM when this process dies (even by SIGKILL), and this process gets
// SIGTERM when its parent (`go run`) dies, which `go run` does on SIGTERM
// without passing it on.
func serve(cmd *exec.Cmd) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1)
	dieWithParent()
	cmd.SysProcAttr = childAttr()
	if err := startChild(cmd); err != nil {
		fail(err.Error())
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			cmd.Process.Signal(s)
		case err := <-done:
			if err != nil {
				var exit *exec.ExitError
				if errors.As(err, &exit) && exit.ExitCode() >= 0 {
					return exit.ExitCode()
				}
				fmt.Fprintln(os.Stderr, "run:", err)
				return 1
			}
			return 0
		}
	}
}

// preparePython builds what the Python examples need and is not in git.
func preparePython() {
	_, err := host.PythonRuntimeDir()
	build := err != nil
	var need, why []string
	if build {
		// The build's own tools, installed with the examples' packages by
		// one apt-get: build.sh then installs nothing (WASGI_NO_INSTALL).
		out, _ := exec.Command("bash", "runtimes/python/build.sh", "--check").Output()
		for _, p := range strings.Fields(string(out)) {
			need, why = append(need, p), append(why, p+" (building the Python runtime)")
		}
	}
	pkgs, w := missingPackages(distPackages)
	need, why = append(need, pkgs...), append(why, w...)
	if len(need) > 0 {
		fmt.Fprintf(os.Stderr, "the Python examples need Debian packages that are not installed: %s\n", strings.Join(why, ", "))
		install(setup.InstallCommand(need))
		if _, why := missingPackages(distPackages); len(why) > 0 {
			fail(fmt.Sprintf("still missing after apt-get: %s (in %s)", strings.Join(why, ", "), distPackages))
		}
	}
	if build {
		fmt.Fprintln(os.Stderr, "building the Python runtime (once; a few minutes): runtimes/python/build.sh")
		runEnv([]string{"WASGI_NO_INSTALL=1"}, "", "bash", "runtimes/python/build.sh")
	}
	run("examples/python/django", "/usr/bin/python3", "manage.py", "collectstatic", "--noinput", "-v", "0")
	// The board: Django 5.2 from Debian sid, its database and static files
	// made by wasgi manage, in the app's own sandbox.
	if b, _ := os.ReadFile("examples/build/python-packages/recipe"); strings.TrimSpace(string(b)) != "2" {
		fmt.Fprintln(os.Stderr, "fetching Django 5.2 LTS from Debian sid into examples/build/python-packages: runtimes/python/packages.sh")
		runEnv([]string{"WASGI_PYTHON_PACKAGES=examples/build/python-packages"}, "", "bash", "runtimes/python/packages.sh")
	}
	os.MkdirAll("examples/python/board/static", 0o755) // the config's alias names it before collectstatic fills it
	manage := []string{wasgi, "manage", "-c", "examples/python/wasgi.toml", "board"}
	run("", append(manage, "migrate", "-v", "0")...)
	run("", append(manage, "collectstatic", "--noinput", "-v", "0")...)
}

// distPackages is where Debian installs pure-Python packages; the Flask
// and the two Django 3.2 examples mount it read-only (python_path).
const distPackages = "/usr/lib/python3/dist-packages"

// pythonNeeds lists, for each Debian package the examples import from
// distPackages, the example that needs it and the folders that show it is
// there: each package's own, so that a dependency removed by hand is
// found too.
var pythonNeeds = []struct{ pkg, example, dir string }{
	{"python3-django", "the Django sites alpha and beta", "django"},
	{"python3-asgiref", "the Django sites alpha and beta", "asgiref"},
	{"python3-sqlparse", "the Django sites alpha and beta", "sqlparse"},
	{"python3-flask", "the Flask site", "flask"},
	{"python3-werkzeug", "the Flask site", "werkzeug"},
	{"python3-jinja2", "the Flask site", "jinja2"},
	{"python3-itsdangerous", "the Flask site", "itsdangerous"},
	{"python3-click", "the Flask site", "click"},
	{"python3-markupsafe", "the Flask site", "markupsafe"},
}

// missingPackages returns the Debian packages of pythonNeeds whose
// folder is not in dist, each with the example that needs it.
func missingPackages(dist string) (pkgs, why []string) {
	for _, n := range pythonNeeds {
		if fi, err := os.Stat(filepath.Join(dist, n.dir)); err != nil || !fi.IsDir() {
			pkgs = append(pkgs, n.pkg)
			why = append(why, n.pkg+" ("+n.example+")")
		}
	}
	return pkgs, why
}

func runEnv(env []string, dir string, argv ...string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Sprintf("%s: %v", argv, err))
	}
}

func run(dir string, argv ...string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Sprintf("%s: %v", argv, err))
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "run:", msg)
	os.Exit(1)
}
