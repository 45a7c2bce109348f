// Package testtree copies the source tree (or part of it) into a test's
// temporary folder, leaving out the state a user's run of the examples can
// leave behind: uploads in media/, SQLite databases, collected static
// files, build output, caches and bytecode. Tests that serve examples/ or
// testdata/ with writable folders work on such a copy, so that neither
// what a user's run left in the tree changes their results nor what the
// test writes lands in the tree.
package testtree

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// skipDir names folders never copied, wherever they are.
var skipDir = map[string]bool{
	".git": true, "__pycache__": true, ".wasgi-cache": true,
}

// Ignored reports whether rel (a slash-separated path relative to the
// repository root) is runtime state rather than source: Copy leaves it out.
func Ignored(rel string, dir bool) bool {
	rel = filepath.ToSlash(rel)
	base := rel[strings.LastIndex(rel, "/")+1:]
	if dir && skipDir[base] {
		return true
	}
	switch rel {
	case "examples/build", "bench/out", "wasgi", ".wasgi-setup", ".wasgi-setup.tmp":
		return true
	}
	parent := ""
	if i := strings.LastIndex(rel, "/"); i >= 0 {
		parent = rel[:i]
	}
	pbase := parent[strings.LastIndex(parent, "/")+1:]
	if strings.HasPrefix(rel, "examples/") {
		// Uploads: a media/ folder keeps only its placeholder.
		if pbase == "media" && base != ".keep" && base != "README.txt" {
			return true
		}
		// collectstatic's output of the Python examples.
		if dir && base == "static" && strings.HasPrefix(rel, "examples/python/") && strings.Count(rel, "/") == 3 {
			return true
		}
	}
	if strings.Contains(base, ".sqlite3") || strings.HasSuffix(base, ".pyc") || strings.HasSuffix(base, ".test") {
		return true
	}
	return false
}

// Copy copies the folder rel of the repository rooted at root (all of it
// when rel is "" or ".") into a new temporary folder, at the same relative
// path, and returns the copy's root. Runtime state (see Ignored) is left
// out.
func Copy(tb testing.TB, root, rel string) string {
	tb.Helper()
	dst := tb.TempDir()
	if err := CopyTo(dst, root, rel); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// CopyTo is Copy into the folder dst.
func CopyTo(dst, root, rel string) error {
	start := filepath.Join(root, rel)
	return filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if r != "." && Ignored(r, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, r)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case !d.Type().IsRegular():
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm()|0o200)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// planted is what following the docs leaves in a tree, as paths
// relative to the repository root with their contents: the upload that
// examples/python/wasgi.toml documents (`curl -F 'file=@파일.txt'
// .../upload/`) in the Django example's media/, the board's SQLite database and uploads, collectstatic's output,
// bytecode, `make build`'s binary, the examples' build output and caches.
// Plant writes it; Copy must leave every one out.
var planted = map[string]string{
	"examples/python/django/media/파일.txt":                             "ok\n",
	"examples/python/django/static/admin/css/base.css":                "stale\n",
	"examples/python/django/mysite/__pycache__/views.cpython-311.pyc": "bytecode",
	"examples/python/flask/__pycache__/hello_flask.cpython-311.pyc":   "bytecode",
	"examples/python/board/db.sqlite3":                                "SQLite format 3\x00",
	"examples/python/board/db.sqlite3-journal":                        "journal",
	"examples/python/board/media/uploads/파일.txt":                      "ok\n",
	"examples/python/board/static/admin/css/base.css":                 "stale\n",
	"examples/django-like/media/파일 résumé.txt":                        "ok\n",
	"examples/build/hello.wasm":                                       "not wasm",
	"examples/build/bin/wasgi":                                        "not a binary",
	"examples/build/cache/module":                                     "cache",
	"examples/.wasgi-cache/module":                                    "cache",
	"bench/out/result.txt":                                            "old",
	"wasgi":                                                           "make build's binary",
	"host/host.test":                                                  "go test -c's binary",
}

// Plant writes into the tree at root what a user's run of the examples
// leaves there (uploads, databases, collected static files, bytecode,
// build output) and returns those paths, relative to root: a test that
// serves a copy of that tree proves that none of it reaches the copy.
func Plant(tb testing.TB, root string) []string {
	tb.Helper()
	var rels []string
	for rel, text := range planted {
		rels = append(rels, rel)
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	sort.Strings(rels)
	return rels
}
