package testtree

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wasgi/wasgi/internal/testwasm"
)

func TestIgnored(t *testing.T) {
	cases := []struct {
		rel  string
		dir  bool
		want bool
	}{
		{"examples/python/django/media/파일.txt", false, true},
		{"examples/python/django/media/.keep", false, false},
		{"examples/django-like/media/README.txt", false, false},
		{"examples/python/board/media/uploads", true, true},
		{"examples/python/board/db.sqlite3", false, true},
		{"examples/python/board/db.sqlite3-journal", false, true},
		{"testdata/python/sqlite/sqliteapp.py", false, false},
		{"examples/python/django/static", true, true},
		{"examples/django-like/static", true, false},          // the example's own files
		{"examples/python/django/mysite/static", true, false}, // deeper: an app's sources
		{"examples/python/flask/__pycache__", true, true},
		{"examples/python/flask/hello_flask.cpython-311.pyc", false, true},
		{"examples/build", true, true},
		{"examples/.wasgi-cache", true, true},
		{".git", true, true},
		{"wasgi", false, true},
		{"cmd/wasgi", true, false},
		{"host/host.test", false, true},
		{"bench/out", true, true},
		{"examples/python/board/manage.py", false, false},
	}
	for _, c := range cases {
		if got := Ignored(c.rel, c.dir); got != c.want {
			t.Errorf("Ignored(%q, dir=%v) = %v, want %v", c.rel, c.dir, got, c.want)
		}
	}
}

// TestCopyLeavesOutUserState: in a tree where a user's run of the
// examples left its state (Plant: the documented upload of 파일.txt, the
// board's database, collected static files, bytecode, build output),
// Copy keeps every source file, byte for byte, and none of that state.
func TestCopyLeavesOutUserState(t *testing.T) {
	src := Copy(t, testwasm.Root(t), "examples")
	sources := files(t, src)
	for _, want := range []string{"examples/python/django/manage.py", "examples/python/django/media/.keep",
		"examples/django-like/media/README.txt", "examples/django-like/static/css/site.css", "examples/hello/main.go"} {
		if _, ok := sources[want]; !ok {
			t.Fatalf("the copy of the repository's examples lacks %s", want)
		}
	}
	planted := Plant(t, src)
	dst := Copy(t, src, "")
	got := files(t, dst)
	for _, rel := range planted {
		if _, ok := got[rel]; ok {
			t.Errorf("Copy kept %s, left by a user's run", rel)
		}
	}
	for rel, text := range sources {
		if got[rel] != text {
			t.Errorf("Copy lost or changed the source file %s", rel)
		}
	}
	if len(got) != len(sources) {
		t.Errorf("the copy has %d files, the sources %d", len(got), len(sources))
	}

	// A part of the tree, at its own relative path.
	part := files(t, Copy(t, src, "examples/python"))
	if _, ok := part["examples/python/django/mysite/settings.py"]; !ok {
		t.Error("Copy of examples/python lacks examples/python/django/mysite/settings.py")
	}
	for rel := range part {
		if slices.Contains(planted, rel) || filepath.Dir(rel) == "examples/hello" {
			t.Errorf("Copy of examples/python has %s", rel)
		}
	}
}

// files maps the regular files under root (slash-separated paths
// relative to it) to their contents.
func files(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		m[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
