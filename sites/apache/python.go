package apache

import (
	slashpath "path"
	"regexp"
	"strings"
)

// sitePackagesRE matches the site-packages folder of a virtual environment
// (or of a Python installation): VENV/lib/pythonX.Y/site-packages.
var sitePackagesRE = regexp.MustCompile(`^(.+)/lib/python(\d+(?:\.\d+)?)/site-packages/?$`)

// splitPythonPath splits mod_wsgi's python-path (or WSGIPythonPath), a
// colon-separated list of folders, into wasgi's python_path and, when one
// of the folders is a virtual environment's site-packages, its python_home.
// notes say what was moved. With hasHome (python-home= or WSGIPythonHome
// is given), every folder stays on python_path.
func splitPythonPath(list string, hasHome bool) (path []string, home string, notes []string) {
	for _, p := range strings.Split(list, ":") {
		if p == "" {
			continue
		}
		if m := sitePackagesRE.FindStringSubmatch(p); m != nil && home == "" && !hasHome {
			home = m[1]
			note := "python_home = " + quote(home) + ": " + p + " is a virtual environment's site-packages"
			if m[2] != "3.11" {
				note += " for Python " + m[2] + ": wasgi runs Python 3.11, so recreate it with 3.11"
			}
			notes = append(notes, note)
			continue
		}
		path = append(path, slashpath.Clean(p))
	}
	return path, home, notes
}

// identRE matches a Python identifier (ASCII).
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// pythonModule derives the module name under which Python imports the
// WSGI script (or auth script) at script, given the python path. mod_wsgi
// loads a script by its path; wasgi imports it as a module, so the script
// must be a .py file inside a folder of the python path. When none holds
// it, the folder above a .py script's package is added, the way a Django
// project is laid out (/srv/mysite.com/mysite/wsgi.py: /srv/mysite.com, and
// the module mysite.wsgi), or else the script's own folder (a .wsgi file
// stands alone). notes say what the user must check.
func pythonModule(script string, pyPath []string) (module, addPath string, notes []string) {
	script = slashpath.Clean(script)
	ext := slashpath.Ext(script)
	stem := strings.TrimSuffix(script, ext)
	if ext != ".py" {
		notes = append(notes, "Python imports .py files only: copy or rename "+slashpath.Base(script)+" to "+identifier(slashpath.Base(stem))+".py")
	}
	defer func() {
		top, _, _ := strings.Cut(module, ".")
		if stdlib[top] {
			notes = append(notes, top+" is also a module of Python's standard library: rename the package")
		}
	}()
	for _, dir := range pyPath {
		rel, ok := strings.CutPrefix(stem, strings.TrimSuffix(dir, "/")+"/")
		if !ok || dir == "" {
			continue
		}
		parts := strings.Split(rel, "/")
		if allIdentifiers(parts) {
			return strings.Join(parts, "."), "", notes
		}
	}
	dir, base := slashpath.Dir(stem), slashpath.Base(stem)
	if pkg := slashpath.Base(dir); ext == ".py" && identRE.MatchString(pkg) && identRE.MatchString(base) && slashpath.Dir(dir) != dir {
		addPath = slashpath.Dir(dir)
		notes = append(notes, "no folder of the python path holds "+script+": added "+addPath+", the folder above its package "+pkg)
		return pkg + "." + base, addPath, notes
	}
	addPath = dir
	notes = append(notes, "no folder of the python path holds "+script+": added its folder "+dir)
	if !identRE.MatchString(base) {
		notes = append(notes, "rename "+slashpath.Base(script)+": "+base+" is not a Python module name")
	}
	return identifier(base), addPath, notes
}

// stdlib are modules of Python's standard library that a project's
// package is likely to be named after: an app's module must not take
// their names.
var stdlib = map[string]bool{
	"site": true, "test": true, "code": true, "email": true, "html": true, "http": true, "json": true,
	"logging": true, "string": true, "types": true, "queue": true, "select": true, "signal": true,
	"socket": true, "token": true, "io": true, "os": true, "sys": true, "time": true, "random": true,
	"calendar": true, "wsgiref": true, "cgi": true,
}

func allIdentifiers(parts []string) bool {
	for _, p := range parts {
		if !identRE.MatchString(p) {
			return false
		}
	}
	return len(parts) > 0
}

// identifier turns s into a Python identifier: other characters become
// "_", and a leading digit gets a "_" before it.
func identifier(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || '0' <= b[0] && b[0] <= '9' {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}
