package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/wasgi/wasgi/host"
	"github.com/wasgi/wasgi/internal/setup"
	"github.com/wasgi/wasgi/runtimes/python"
)

// setupUsage is `go run ./examples/run setup -h`.
const setupUsage = `usage: go run ./examples/run setup [-n]

Prepares everything the tests need beyond Go, saying what it does first:
  1. the Debian packages the tests need (see internal/setup): lists those
     missing, all at once, prints the one apt-get command, then runs it
     (with sudo unless root);
  2. the Python runtime: runtimes/python/build.sh, into
     ${WASGI_PYTHON:-~/.cache/wasgi/python} (a few minutes the first time,
     a line per stage; a no-op when it is up to date);
  3. Django 5.2 from Debian sid: runtimes/python/packages.sh, into
     ~/.cache/wasgi/python-packages, installing nothing.

  -n   only say what is missing and the commands that would fix it;
       install and build nothing (exit status 1 when something is missing)
`

// runSetup is `go run ./examples/run setup`.
func runSetup(args []string) {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, setupUsage) }
	dryRun := fs.Bool("n", false, "only say what is missing")
	fs.Parse(args)
	root, err := os.Getwd()
	if err != nil {
		fail(err.Error())
	}
	incomplete := false
	step("Debian packages")
	missing, err := checkPackages(os.Stderr, root)
	if err != nil {
		fail(err.Error())
	}
	if len(missing) > 0 {
		cmds := setup.InstallCommand(missing)
		if *dryRun {
			fmt.Fprintf(os.Stderr, "to install them: %s\n", setup.Shell(cmds))
			incomplete = true
		} else {
			install(cmds)
		}
	}
	if !*dryRun {
		recordPackages(root)
	}

	step("the Python runtime (runtimes/python/build.sh)")
	if *dryRun {
		if dir, err := host.PythonRuntimeDir(); err != nil {
			fmt.Fprintf(os.Stderr, "not built: no %s with %s in %s\n", python.Module, python.Lib, strings.Join(python.Candidates(), ", "))
			incomplete = true
		} else {
			fmt.Fprintf(os.Stderr, "built in %s (setup reruns build.sh, which redoes only what changed)\n", dir)
		}
	} else {
		// The packages are in: build.sh must not install more of its own.
		runEnv([]string{"WASGI_NO_INSTALL=1"}, "", "bash", "runtimes/python/build.sh")
	}

	step("Django 5.2 from Debian sid (runtimes/python/packages.sh)")
	pkgs := testPackagesDir()
	if djangoFetched(pkgs) {
		fmt.Fprintf(os.Stderr, "fetched in %s\n", pkgs)
	} else if *dryRun {
		fmt.Fprintf(os.Stderr, "not fetched into %s\n", pkgs)
		incomplete = true
	} else {
		runEnv([]string{"WASGI_PYTHON_PACKAGES=" + pkgs}, "", "bash", "runtimes/python/packages.sh")
	}

	if incomplete {
		fmt.Fprintln(os.Stderr, "\nnot ready: run go run ./examples/run setup (without -n)")
		os.Exit(1)
	}
	if *dryRun {
		fmt.Fprintln(os.Stderr, "\nready: go test ./...")
	} else {
		fmt.Fprintln(os.Stderr, "\nready: go test ./... runs every test")
	}
}

func step(s string) { fmt.Fprintf(os.Stderr, "== %s ==\n", s) }

// checkPackages writes, for each group of setup.Groups, whether its
// packages are installed, to w, and returns the missing ones.
func checkPackages(w io.Writer, root string) ([]string, error) {
	groups, err := setup.Groups(root)
	if err != nil {
		return nil, err
	}
	missing, err := setup.Missing(groups)
	if errors.Is(err, setup.ErrNotDebian) {
		var all []string
		for _, g := range groups {
			all = append(all, g.Packages...)
		}
		return nil, fmt.Errorf("setup needs Debian (dpkg-query, apt-get; the Python runtime is built from Debian's sources); the tests need these Debian packages or their equivalents: %s", strings.Join(all, " "))
	} else if err != nil {
		return nil, err
	}
	for _, g := range groups {
		var lack []string
		for _, p := range g.Packages {
			for _, m := range missing {
				if p == m {
					lack = append(lack, p)
				}
			}
		}
		if len(lack) == 0 {
			fmt.Fprintf(w, "  ok       %s: %s\n", g.For, strings.Join(g.Packages, " "))
		} else {
			fmt.Fprintf(w, "  missing  %s: %s\n", g.For, strings.Join(lack, " "))
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(w, "missing Debian packages (%d): %s\n", len(missing), strings.Join(missing, " "))
	}
	return missing, nil
}

// install runs cmds (setup.InstallCommand's), printing them first, and
// stops the runner naming them when they fail.
func install(cmds [][]string) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		fail("there is no apt-get here; install those packages yourself")
	}
	fmt.Fprintf(os.Stderr, "installing them: %s\n", setup.Shell(cmds))
	for _, argv := range cmds {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stderr, os.Stderr // sudo may ask for a password
		if err := cmd.Run(); err != nil {
			fail(fmt.Sprintf("%s: %v; run it yourself, then me again: %s", strings.Join(argv, " "), err, setup.Shell(cmds)))
		}
	}
}

// recordPackages sets the stamp's "debian" line to the packages installed
// now, so that tests cached while one was missing run again.
func recordPackages(root string) {
	groups, err := setup.Groups(root)
	if err != nil {
		return
	}
	missing, err := setup.Missing(groups)
	if err != nil {
		return
	}
	state := "none missing"
	if len(missing) > 0 {
		state = "missing " + strings.Join(missing, " ")
	}
	if err := setup.Stamp(root, "debian", state); err != nil {
		fmt.Fprintf(os.Stderr, "warning: %s: %v\n", setup.StampName, err)
	}
}

// testPackagesDir is where the tests look for Django 5.2 (host's
// djangoPackages): ${XDG_CACHE_HOME:-~/.cache}/wasgi/python-packages.
func testPackagesDir() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		fail(err.Error())
	}
	return filepath.Join(cache, "wasgi", "python-packages")
}

// djangoFetched reports whether packages.sh's current recipe filled dir.
func djangoFetched(dir string) bool {
	b, _ := os.ReadFile(filepath.Join(dir, "recipe"))
	return strings.TrimSpace(string(b)) == "2"
}
