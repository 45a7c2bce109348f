// Package python owns the layout of wasgi's Python runtime, the
// CPython-for-WASI reactor that runtimes/python/build.sh builds: where its
// files are on the host, where they appear in the guest, and the WASGI_*
// variables through which the host configures the interpreter
// (reactor/wasgi_python.c and reactor/_wasgi_bridge.py read them). Everything that names a
// Python version or one of these paths takes it from here.
package python

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Version is the CPython version of the runtime; LibName is its library
// folder's name.
const (
	Version = "3.11"
	LibName = "python" + Version
)

// Files of a built runtime, relative to its folder (see RuntimeDir).
const (
	// Module is the runtime's wasm module.
	Module = "python-wsgi.wasm"
	// Lib is the standard library.
	Lib = "lib/" + LibName
	// Zoneinfo is the time zone database, when the build has one.
	Zoneinfo = "zoneinfo"
	// Root is an empty folder mounted read-only at the guest's "/".
	Root = "root"
)

// Guest paths: how an app's guest file system is laid out.
//
//	/usr/local/lib/python3.11   the standard library (read-only)
//	/python/<name>              each python_path folder (read-only)
//	/python/site-packages       python_home's site-packages (read-only)
//	/usr/share/zoneinfo         the time zone database, if the runtime has one
const (
	GuestLib      = "/usr/local/lib/" + LibName
	GuestRoot     = "/python"
	GuestSite     = GuestRoot + "/site-packages"
	GuestZoneinfo = "/usr/share/zoneinfo"
)

// Variables of the guest's WASI environment that configure the runtime
// (the request environ never carries them).
const (
	EnvPath          = "WASGI_PYTHON_PATH"     // colon-separated guest folders first on sys.path
	EnvSite          = "WASGI_PYTHON_SITE"     // a site-packages folder, after them
	EnvWSGI          = "WASGI_WSGI"            // "module:callable"
	EnvCheckPassword = "WASGI_CHECK_PASSWORD"  // "module:function" or unset
	EnvGroupsForUser = "WASGI_GROUPS_FOR_USER" // "module:function" or unset
	EnvRun           = "WASGI_PYTHON_RUN"      // set: a one-shot run, the app is not imported
)

// EnvDir names the host environment variable that points wasgi at the
// runtime's folder, ahead of the default places (see RuntimeDir).
const EnvDir = "WASGI_PYTHON"

// SitePackages is the site-packages folder of a virtual environment.
func SitePackages(home string) string {
	return filepath.Join(home, "lib", LibName, "site-packages")
}

// RuntimeDir returns the folder holding the runtime: $WASGI_PYTHON if set,
// else the first of ${XDG_CACHE_HOME:-~/.cache}/wasgi/python (where
// build.sh puts it), /usr/local/lib/wasgi/python and /usr/lib/wasgi/python
// that holds one.
func RuntimeDir() (string, error) {
	candidates := Candidates()
	for _, d := range candidates {
		if isFile(filepath.Join(d, Module)) && isFile(filepath.Join(d, Lib, "os.py")) {
			return filepath.Abs(d)
		}
	}
	return "", fmt.Errorf(`runtime = "python" needs the Python runtime (%s and %s), not found in %s: build it with runtimes/python/build.sh, or set %s to its folder`,
		Module, Lib, strings.Join(candidates, ", "), EnvDir)
}

// Candidates returns the folders RuntimeDir looks in, in order:
// $WASGI_PYTHON alone if set, else ${XDG_CACHE_HOME:-~/.cache}/wasgi/python,
// /usr/local/lib/wasgi/python and /usr/lib/wasgi/python.
func Candidates() []string {
	if d := os.Getenv(EnvDir); d != "" {
		return []string{d}
	}
	var candidates []string
	if c, err := os.UserCacheDir(); err == nil {
		candidates = append(candidates, filepath.Join(c, "wasgi", "python"))
	}
	return append(candidates, "/usr/local/lib/wasgi/python", "/usr/lib/wasgi/python")
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
