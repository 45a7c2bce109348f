package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasgi/wasgi/runtimes/python"

	"github.com/wasgi/wasgi/sandbox"
	"github.com/wasgi/wasgi/sites"
)

// Python apps (runtime = "python") run the host's Python runtime, built by
// runtimes/python/build.sh: CPython as a wasgi reactor and its standard
// library. The host, not the user, locates it and gives each app the guest
// file system of package runtimes/python, followed by the app's own dirs,
// all over an empty read-only "/" (so that os.makedirs("/media") finds
// "/", as it would on a real system). The interpreter is configured
// through WASGI_* variables in the guest's WASI environment.

// PythonEnv names the environment variable that points wasgi at the Python
// runtime folder, ahead of the default places (see PythonRuntimeDir).
const PythonEnv = python.EnvDir

// PythonRuntimeDir returns the folder holding the Python runtime (see
// python.RuntimeDir).
func PythonRuntimeDir() (string, error) { return python.RuntimeDir() }

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// dirFor is the dir of own whose host folder is p, or nil.
func dirFor(own []sandbox.Dir, p string) *sandbox.Dir {
	for i := range own {
		if filepath.Clean(own[i].Host) == filepath.Clean(p) {
			return &own[i]
		}
	}
	return nil
}

// pythonApp returns the module, preopens and WASI environment of a Python
// app, with the runtime in dir.
func pythonApp(ac *sites.App, dir string, own []sandbox.Dir) (module string, dirs []sandbox.Dir, env map[string]string, err error) {
	py := ac.Python
	dirs = []sandbox.Dir{{Guest: python.GuestLib, Host: filepath.Join(dir, python.Lib), ReadOnly: true}}
	if zi := filepath.Join(dir, python.Zoneinfo); isFile(filepath.Join(zi, "UTC")) {
		dirs = append(dirs, sandbox.Dir{Guest: python.GuestZoneinfo, Host: zi, ReadOnly: true})
	}
	env = map[string]string{python.EnvWSGI: py.WSGI}
	taken := map[string]bool{}
	var path []string
	for _, p := range py.Path {
		// A folder that is also one of the app's dirs goes on sys.path where
		// that dir is, with its mode: a Django project whose default
		// settings keep db.sqlite3 beside manage.py (BASE_DIR) mounts its
		// folder rw once, rather than read-only at /python/<name>.
		if d := dirFor(own, p); d != nil {
			path = append(path, d.Guest)
			continue
		}
		name := filepath.Base(p)
		if name == "site-packages" || name == "/" || name == "." {
			name = "path"
		}
		guest := python.GuestRoot + "/" + name
		for i := 2; taken[guest]; i++ {
			guest = fmt.Sprintf("%s/%s-%d", python.GuestRoot, name, i)
		}
		taken[guest] = true
		dirs = append(dirs, sandbox.Dir{Guest: guest, Host: p, ReadOnly: true})
		path = append(path, guest)
	}
	if len(path) > 0 {
		env[python.EnvPath] = strings.Join(path, ":")
	}
	if py.Home != "" {
		dirs = append(dirs, sandbox.Dir{Guest: python.GuestSite, Host: python.SitePackages(py.Home), ReadOnly: true})
		env[python.EnvSite] = python.GuestSite
	}
	if py.CheckPassword != "" {
		env[python.EnvCheckPassword] = py.CheckPassword
	}
	if py.GroupsForUser != "" {
		env[python.EnvGroupsForUser] = py.GroupsForUser
	}
	for _, d := range own {
		for _, r := range dirs {
			if strings.HasPrefix(d.Guest+"/", r.Guest+"/") || strings.HasPrefix(r.Guest+"/", d.Guest+"/") {
				return "", nil, nil, fmt.Errorf("dirs: guest path %s overlaps the Python runtime's %s: pick another", d.Guest, r.Guest)
			}
		}
		if strings.HasPrefix(d.Guest+"/", python.GuestRoot+"/") {
			return "", nil, nil, fmt.Errorf("dirs: guest path %s is under %s, kept for python_path: pick another", d.Guest, python.GuestRoot)
		}
	}
	for k, v := range ac.Env {
		env[k] = v
	}
	// The empty "/" goes first, under everything; it was left out of the
	// overlap check above because every path is under it.
	if root := filepath.Join(dir, python.Root); isDir(root) {
		dirs = append([]sandbox.Dir{{Guest: "/", Host: root, ReadOnly: true}}, dirs...)
	}
	return filepath.Join(dir, python.Module), append(dirs, own...), env, nil
}

// errNoCheckPassword is a Python auth provider without check_password.
var errNoCheckPassword = errors.New(`is a Python app without check_password = "module:function"`)
