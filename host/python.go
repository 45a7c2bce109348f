package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasgi/wasgi/sandbox"
	"github.com/wasgi/wasgi/sites"
)

// Python apps (runtime = "python") run the host's Python runtime, built by
// runtimes/python/build.sh: python-wsgi.wasm, CPython 3.11 as a wasgi
// reactor, and lib/python3.11, its standard library. The host, not the
// user, locates it and gives each app a guest file system laid out as
//
//	/usr/local/lib/python3.11   the standard library (read-only)
//	/python/<name>              each python_path folder (read-only)
//	/python/site-packages       python_home's site-packages (read-only)
//	/usr/share/zoneinfo         the time zone database, if the runtime has one
//
// followed by the app's own dirs, all over an empty read-only "/" (so that
// os.makedirs("/media") finds "/", as it would on a real system). The interpreter is configured through
// WASGI_* variables in the guest's WASI environment, which the request
// environ does not carry.

// PythonEnv names the environment variable that points wasgi at the Python
// runtime folder, ahead of the default places (see PythonRuntimeDir).
const PythonEnv = "WASGI_PYTHON"

// Guest paths of the Python layout.
const (
	pythonStdlibGuest = "/usr/local/lib/python3.11"
	pythonGuestRoot   = "/python"
	pythonModule      = "python-wsgi.wasm"
	zoneinfoGuest     = "/usr/share/zoneinfo"
)

// PythonRuntimeDir returns the folder holding the Python runtime: $WASGI_PYTHON
// if set, else the first of ${XDG_CACHE_HOME:-~/.cache}/wasgi/python (where
// runtimes/python/build.sh puts it), /usr/local/lib/wasgi/python and
// /usr/lib/wasgi/python that holds one.
func PythonRuntimeDir() (string, error) {
	var candidates []string
	if d := os.Getenv(PythonEnv); d != "" {
		candidates = []string{d}
	} else {
		if c, err := os.UserCacheDir(); err == nil {
			candidates = append(candidates, filepath.Join(c, "wasgi", "python"))
		}
		candidates = append(candidates, "/usr/local/lib/wasgi/python", "/usr/lib/wasgi/python")
	}
	for _, d := range candidates {
		if isFile(filepath.Join(d, pythonModule)) && isFile(filepath.Join(d, "lib", "python3.11", "os.py")) {
			return filepath.Abs(d)
		}
	}
	return "", fmt.Errorf(`runtime = "python" needs the Python runtime (%s and lib/python3.11), not found in %s: build it with runtimes/python/build.sh, or set %s to its folder`,
		pythonModule, strings.Join(candidates, ", "), PythonEnv)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// pythonApp returns the module, preopens and WASI environment of a Python
// app, with the runtime in dir.
func pythonApp(ac *sites.App, dir string, own []sandbox.Dir) (module string, dirs []sandbox.Dir, env map[string]string, err error) {
	py := ac.Python
	dirs = []sandbox.Dir{{Guest: pythonStdlibGuest, Host: filepath.Join(dir, "lib", "python3.11"), ReadOnly: true}}
	if zi := filepath.Join(dir, "zoneinfo"); isFile(filepath.Join(zi, "UTC")) {
		dirs = append(dirs, sandbox.Dir{Guest: zoneinfoGuest, Host: zi, ReadOnly: true})
	}
	env = map[string]string{"WASGI_WSGI": py.WSGI}
	taken := map[string]bool{}
	var path []string
	for _, p := range py.Path {
		name := filepath.Base(p)
		if name == "site-packages" || name == "/" || name == "." {
			name = "path"
		}
		guest := pythonGuestRoot + "/" + name
		for i := 2; taken[guest]; i++ {
			guest = fmt.Sprintf("%s/%s-%d", pythonGuestRoot, name, i)
		}
		taken[guest] = true
		dirs = append(dirs, sandbox.Dir{Guest: guest, Host: p, ReadOnly: true})
		path = append(path, guest)
	}
	if len(path) > 0 {
		env["WASGI_PYTHON_PATH"] = strings.Join(path, ":")
	}
	if py.Home != "" {
		guest := pythonGuestRoot + "/site-packages"
		dirs = append(dirs, sandbox.Dir{Guest: guest, Host: filepath.Join(py.Home, "lib", "python3.11", "site-packages"), ReadOnly: true})
		env["WASGI_PYTHON_SITE"] = guest
	}
	if py.CheckPassword != "" {
		env["WASGI_CHECK_PASSWORD"] = py.CheckPassword
	}
	if py.GroupsForUser != "" {
		env["WASGI_GROUPS_FOR_USER"] = py.GroupsForUser
	}
	for _, d := range own {
		for _, r := range dirs {
			if strings.HasPrefix(d.Guest+"/", r.Guest+"/") || strings.HasPrefix(r.Guest+"/", d.Guest+"/") {
				return "", nil, nil, fmt.Errorf("dirs: guest path %s overlaps the Python runtime's %s: pick another", d.Guest, r.Guest)
			}
		}
		if strings.HasPrefix(d.Guest+"/", pythonGuestRoot+"/") {
			return "", nil, nil, fmt.Errorf("dirs: guest path %s is under %s, kept for python_path: pick another", d.Guest, pythonGuestRoot)
		}
	}
	for k, v := range ac.Env {
		env[k] = v
	}
	// The empty "/" goes first, under everything; it was left out of the
	// overlap check above because every path is under it.
	if root := filepath.Join(dir, "root"); isDir(root) {
		dirs = append([]sandbox.Dir{{Guest: "/", Host: root, ReadOnly: true}}, dirs...)
	}
	return filepath.Join(dir, pythonModule), append(dirs, own...), env, nil
}

// errNoCheckPassword is a Python auth provider without check_password.
var errNoCheckPassword = errors.New(`is a Python app without check_password = "module:function"`)
