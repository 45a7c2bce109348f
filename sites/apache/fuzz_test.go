package apache

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/BurntSushi/toml"

	"github.com/wasgi/wasgi/sites"
)

// pathKeys are the keys whose values name files or folders: the only ones
// sites.Parse may complain about for the translator's output, since the
// files need not exist where the fuzzer runs.
var pathKeys = map[string]bool{
	"site.app.python_path": true,
	"site.app.python_home": true,
	"site.alias.path":      true,
}

// FuzzParse feeds arbitrary text to the parser (as httpd.conf, next to a
// file to include and one that includes itself) and what it reads to the
// translator. The parser fails with an *Error that has a file and line, or
// succeeds; then the translation reports every directive and writes TOML
// that decodes and that sites.Parse accepts, but for files that do not
// exist. Nothing panics.
func FuzzParse(f *testing.F) {
	list, err := filepath.Glob("testdata/*.conf")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range append(list, "testdata/included/10-intranet.conf") {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"<VirtualHost *:80>\n", "</Directory>", "ServerName \"x", "<Directory /x\n", "Include loop.conf",
		"Include inc/*.conf\nIncludeOptional none/*", "Alias /a \\\n/b", "<Location /a>\nRequire ip 10\n</Location>",
	} {
		f.Add([]byte(s))
	}
	// Relative paths resolve below a folder that does not exist: Parse
	// reads no file but those the TOML names.
	file := filepath.Join(os.TempDir(), "wasgi-fuzz-none", "wasgi.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"httpd.conf":  {Data: data},
			"inc/a.conf":  {Data: []byte("ServerAlias a.example.com\nWSGIScriptAlias /a /srv/a/wsgi.py\n")},
			"loop.conf":   {Data: []byte("Include loop.conf\n")},
			"inc/b/c.txt": {Data: []byte("<Location /x>\nRequire all denied\n</Location>\n")},
		}
		conf, err := ParseFS(fsys, "httpd.conf")
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.File == "" || pe.Line < 1 || pe.Msg == "" {
				t.Fatalf("error %v (%T) has no file:line", err, err)
			}
			return
		}
		res := Translate(conf)
		for _, d := range unreported(res, conf) {
			t.Errorf("no report entry for %s at %s", d, at(d))
		}
		var v map[string]any
		if _, err := toml.Decode(string(res.TOML), &v); err != nil {
			t.Fatalf("TOML does not decode: %v\n%s", err, res.TOML)
		}
		if _, err := sites.Parse(file, res.TOML); err != nil {
			var errs sites.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("sites.Parse: %v", err)
			}
			for _, e := range errs {
				if !pathKeys[e.Key] {
					t.Errorf("sites.Parse: %v\n%s", e, res.TOML)
				}
			}
		}
	})
}
