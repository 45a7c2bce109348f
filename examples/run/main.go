// Command run builds the example apps into examples/build and serves
// examples/wasgi.toml with wasgi: `go run ./examples/run` from the
// repository root, nothing else to install.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
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
	args := append([]string{"run", "./cmd/wasgi", "serve", "-c", "examples/wasgi.toml"}, os.Args[1:]...)
	cmd := exec.Command("go", args...)
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

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "run:", msg)
	os.Exit(1)
}
