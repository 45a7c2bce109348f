// Command run builds the example apps into examples/build and serves
// examples/wasgi.toml with wasgi: `go run ./examples/run` from the
// repository root, nothing else to install.
//
// `go run ./examples/run python` serves the Python examples instead
// (examples/python/wasgi.toml): it builds the Python runtime once with
// runtimes/python/build.sh (a few minutes), installs Debian's python3-django
// and python3-flask when missing, and collects Django's static files.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/wasgi/wasgi/host"
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
	if len(args) > 0 && args[0] == "python" {
		config, args = "examples/python/wasgi.toml", args[1:]
		preparePython()
	}
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
	cmd := exec.Command("go", append([]string{"run", "./cmd/wasgi", "serve", "-c", config}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Ctrl-C reaches the whole process group; SIGTERM and SIGHUP sent to
	// this process are passed on, so wasgi drains or reloads.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		fail(err.Error())
	}
	go func() {
		for s := range sigs {
			if s != syscall.SIGINT {
				cmd.Process.Signal(s)
			}
		}
	}()
	if err := cmd.Wait(); err != nil {
		fail(err.Error())
	}
}

// preparePython builds what the Python examples need and is not in git.
func preparePython() {
	if _, err := host.PythonRuntimeDir(); err != nil {
		fmt.Fprintln(os.Stderr, "building the Python runtime (once; a few minutes): runtimes/python/build.sh")
		run("", "bash", "runtimes/python/build.sh")
	}
	if _, err := os.Stat("/usr/lib/python3/dist-packages/django"); err != nil {
		fmt.Fprintln(os.Stderr, "installing Debian's python3-django and python3-flask")
		sudo := []string{}
		if os.Geteuid() != 0 {
			sudo = []string{"sudo"}
		}
		run("", append(sudo, "apt-get", "install", "-y", "-qq", "python3-django", "python3-flask")...)
	}
	run("examples/python/django", "/usr/bin/python3", "manage.py", "collectstatic", "--noinput", "-v", "0")
	// The board: Django 5.2 from Debian sid, its database and static files
	// made by wasgi manage, in the app's own sandbox.
	if b, _ := os.ReadFile("examples/build/python-packages/recipe"); strings.TrimSpace(string(b)) != "2" {
		fmt.Fprintln(os.Stderr, "fetching Django 5.2 LTS from Debian sid into examples/build/python-packages: runtimes/python/packages.sh")
		runEnv([]string{"WASGI_PYTHON_PACKAGES=examples/build/python-packages"}, "", "bash", "runtimes/python/packages.sh")
	}
	os.MkdirAll("examples/python/board/static", 0o755) // the config's alias names it before collectstatic fills it
	manage := []string{"go", "run", "./cmd/wasgi", "manage", "-c", "examples/python/wasgi.toml", "board"}
	run("", append(manage, "migrate", "-v", "0")...)
	run("", append(manage, "collectstatic", "--noinput", "-v", "0")...)
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
