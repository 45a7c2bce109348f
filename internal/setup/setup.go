// Package setup knows what the tests and the examples need beyond Go: the
// Debian packages, the Python runtime (runtimes/python/build.sh) and
// Django 5.2 (runtimes/python/packages.sh). `go run ./examples/run setup`
// (Command) prepares all of it; the tests never install or build any of
// it, and skip naming Command when something is missing.
//
// # The stamp
//
// Go's test cache rechecks the files a test opened only when they are
// inside the module (cmd/go: "Do not recheck files outside the module"):
// a test that skipped because ~/.cache/wasgi/python or
// /usr/bin/chromium was missing stays "(cached)" after they appear. So
// whatever changes them from this checkout also rewrites a stamp file at
// the module's root, StampName (ignored by git), one line per thing it
// describes; the tests that depend on something outside the module open
// it (Observe), and a changed stamp reruns them.
package setup

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Command prepares everything the tests need; skip messages name it.
const Command = "go run ./examples/run setup"

// StampName is the stamp's file name, at the module's root.
const StampName = ".wasgi-setup"

// Group is a set of Debian packages and what needs them.
type Group struct {
	For      string   // "the C guests (conformance kit, examples/c-hello)"
	Packages []string // Debian package names
}

// Groups returns every Debian package the tests need, by what needs it,
// root being the module's root (the Python runtime's build tools are
// those of root/runtimes/python/build.sh --deps). .ci/run installs them
// through Command.
func Groups(root string) ([]Group, error) {
	out, err := exec.Command("bash", filepath.Join(root, "runtimes", "python", "build.sh"), "--deps").Output()
	if err != nil {
		return nil, fmt.Errorf("setup: runtimes/python/build.sh --deps: %w", err)
	}
	return []Group{
		{"the C guests (conformance kit, examples/c-hello)", []string{"clang", "lld", "wasi-libc", "libclang-rt-14-dev-wasm32"}},
		{"the Rust guests (conformance kit, examples/rust-hello)", []string{"rustc", "libstd-rust-dev-wasm32"}},
		{"building the Python runtime (runtimes/python/build.sh)", strings.Fields(string(out))},
		{"the Python tests and examples (Django 3.2, Flask, PyMySQL, redis-py)", []string{"python3-django", "python3-flask", "python3-pymysql", "python3-redis"}},
		{"the database tests (internal/testsvc)", []string{"postgresql", "mariadb-server", "redis-server"}},
		{"the browser test (host/browser_test.go)", []string{"chromium", "fonts-nanum"}},
	}, nil
}

// ErrNotDebian is returned by Missing where there is no dpkg-query.
var ErrNotDebian = errors.New("setup: no dpkg-query here: not a Debian system")

// Missing returns the packages of groups that dpkg does not list as
// installed, each once, in the order of groups.
func Missing(groups []Group) ([]string, error) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		return nil, ErrNotDebian
	}
	var missing []string
	for _, g := range groups {
		for _, p := range g.Packages {
			if !slices.Contains(missing, p) && !Installed(p) {
				missing = append(missing, p)
			}
		}
	}
	return missing, nil
}

// Installed reports whether dpkg lists pkg as installed (not merely
// known, or removed with its configuration files left).
func Installed(pkg string) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", pkg).Output()
	return err == nil && string(out) == "installed"
}

// InstallCommand returns the commands that install pkgs: apt-get update,
// then apt-get install, through sudo unless this process is root.
func InstallCommand(pkgs []string) [][]string {
	var sudo []string
	if os.Geteuid() != 0 {
		sudo = []string{"sudo"}
	}
	return [][]string{
		append(slices.Clone(sudo), "apt-get", "update", "-qq"),
		append(append(slices.Clone(sudo), "apt-get", "install", "-y"), pkgs...),
	}
}

// Shell returns cmds as one shell line, joined by &&.
func Shell(cmds [][]string) string {
	var s []string
	for _, c := range cmds {
		s = append(s, strings.Join(c, " "))
	}
	return strings.Join(s, " && ")
}

// Stamp sets the stamp's line for key (its first word) to key and value,
// rewriting the file only when that changes it.
func Stamp(root, key, value string) error {
	path := filepath.Join(root, StampName)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	line := key + " " + value
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l == line {
			return nil
		}
		if l != "" && !strings.HasPrefix(l, key+" ") {
			lines = append(lines, l)
		}
	}
	lines = append(lines, line)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Observe opens the stamp of the module the current folder is in, so
// that the go command's test cache keys a test's result on it (see the
// package doc). A missing stamp is observed too: its creation reruns the
// test.
func Observe() {
	dir, err := os.Getwd()
	if err != nil {
		return
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return
		}
		dir = parent
	}
	if f, err := os.Open(filepath.Join(dir, StampName)); err == nil {
		f.Close()
	}
}
