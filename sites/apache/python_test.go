package apache

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// pyModuleRE matches a dotted module name.
var pyModuleRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

func TestPythonModule(t *testing.T) {
	cases := []struct {
		script  string
		path    []string
		module  string
		addPath string
		notes   int
	}{
		{"/srv/mysite.com/mysite/wsgi.py", []string{"/srv/mysite.com"}, "mysite.wsgi", "", 0},
		{"/srv/mysite.com/mysite/wsgi.py", []string{"/srv/other", "/srv/mysite.com/"}, "mysite.wsgi", "", 0},
		{"/srv/a/b/c/app.py", []string{"/srv/a"}, "b.c.app", "", 0},
		{"/srv/mysite.com/mysite/wsgi.py", nil, "mysite.wsgi", "/srv/mysite.com", 1},
		{"/srv/www/intranet app/intranet.wsgi", nil, "intranet", "/srv/www/intranet app", 2},
		{"/srv/site/app.wsgi", []string{"/srv/site"}, "app", "", 1},
		{"/srv/my-site/wsgi.py", []string{"/srv"}, "wsgi", "/srv/my-site", 1}, // my-site is no package name
		{"/srv/x/9lives.py", []string{"/srv"}, "_9lives", "/srv/x", 2},
		{"wsgi.py", nil, "wsgi", ".", 1},
	}
	for _, tc := range cases {
		module, add, notes := pythonModule(tc.script, tc.path)
		if module != tc.module || add != tc.addPath || len(notes) != tc.notes {
			t.Errorf("pythonModule(%q, %q) = %q, %q, %q; want %q, %q and %d notes", tc.script, tc.path, module, add, notes, tc.module, tc.addPath, tc.notes)
		}
		if !pyModuleRE.MatchString(module) {
			t.Errorf("%q is not a module name", module)
		}
	}
}

func TestSplitPythonPath(t *testing.T) {
	path, home, notes := splitPythonPath("/srv/a::/srv/venv/lib/python3.11/site-packages:/srv/b/", false)
	if !reflect.DeepEqual(path, []string{"/srv/a", "/srv/b"}) || home != "/srv/venv" || len(notes) != 1 {
		t.Errorf("got %q %q %q", path, home, notes)
	}
	path, home, _ = splitPythonPath("/srv/a:/srv/venv/lib/python2.7/site-packages", true)
	if !reflect.DeepEqual(path, []string{"/srv/a", "/srv/venv/lib/python2.7/site-packages"}) || home != "" {
		t.Errorf("with a python home: got %q %q", path, home)
	}
}

func TestPythonModuleStdlib(t *testing.T) {
	module, _, notes := pythonModule("/srv/www/site/wsgi.py", []string{"/srv/www"})
	if module != "site.wsgi" || len(notes) != 1 || !strings.Contains(notes[0], "standard library") {
		t.Errorf("got %q %q", module, notes)
	}
}
