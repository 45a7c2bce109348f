package main

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/wasgi/wasgi/abi"
)

const newUsage = `usage: wasgi new go|c|python DIR
  writes a buildable app into DIR (new or empty): its source, a wasgi.toml
  serving it on 127.0.0.1:8080 and a README with the build and serve commands
`

// skel holds the skeleton of each kind of app: skel/KIND/NAME.tmpl
// becomes DIR/NAME (gitignore becomes .gitignore), through text/template
// with a newApp. The names end in .tmpl so that the go command sees no
// package, or module, in them.
//
//go:embed skel
var skel embed.FS

// sdkGoVersion is the go line of the Go SDK's module, the module's own
// (TestSDKGoVersion): the minimum Go that builds it.
const sdkGoVersion = "1.26.0"

// sdkDir is where `wasgi new go` puts the SDK's source in the app's folder;
// a dot folder, so that ./... patterns of the app's module skip it.
const sdkDir = ".wasgi-sdk"

// newApp is what the skeleton's templates are filled with.
type newApp struct {
	Name      string // the site's name, the Go module's: DIR's base name, cleaned
	GoVersion string
}

// newCommand is `wasgi new KIND DIR`: it writes the skeleton of KIND into
// DIR, which must be new or empty. On an error nothing is left behind.
func newCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprint(stderr, newUsage)
		return 2
	}
	kind, dir := args[0], args[1]
	if _, err := fs.Stat(skel, "skel/"+kind); err != nil {
		fmt.Fprintf(stderr, "wasgi new: unknown kind %q (go, c or python)\n%s", kind, newUsage)
		return 2
	}
	files, err := skeleton(kind, newApp{Name: appName(dir), GoVersion: sdkGoVersion})
	if err == nil {
		err = writeNew(dir, files)
	}
	if err != nil {
		fmt.Fprintf(stderr, "wasgi new: %v\n", err)
		return 1
	}
	names := make([]string, 0, len(files))
	for name := range files {
		if !strings.HasPrefix(name, sdkDir+"/") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	fmt.Fprintf(stdout, "wrote a %s app into %s: %s", kind, dir, strings.Join(names, " "))
	if kind == "go" {
		fmt.Fprintf(stdout, " and the SDK in %s/", sdkDir)
	}
	fmt.Fprintf(stdout, "\nnext: cd %s, then the build and serve commands of README.md\n", dir)
	return 0
}

// skeleton returns the files of an app of kind, by slash-separated path
// relative to its folder.
func skeleton(kind string, app newApp) (map[string][]byte, error) {
	files := map[string][]byte{}
	root := "skel/" + kind
	err := fs.WalkDir(skel, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		text, err := fs.ReadFile(skel, p)
		if err != nil {
			return err
		}
		t, err := template.New(p).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, app); err != nil {
			return err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(p, root+"/"), ".tmpl")
		if name == "gitignore" { // embed leaves dot files out
			name = ".gitignore"
		}
		files[name] = b.Bytes()
		return nil
	})
	if err != nil {
		return nil, err
	}
	sdk := abi.SDK()
	switch kind {
	case "go": // the SDK's source as module github.com/wasgi/wasgi: see go.mod.tmpl
		files[sdkDir+"/go.mod"] = []byte("module github.com/wasgi/wasgi\n\ngo " + app.GoVersion + "\n")
		err = fs.WalkDir(sdk, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(sdk, p)
			files[path.Join(sdkDir, "abi", p)] = b
			return err
		})
	case "c":
		files["wasgi.h"], err = fs.ReadFile(sdk, "include/wasgi.h")
	}
	return files, err
}

// writeNew writes files into dir, which it creates, or which must be
// empty; after a failure it removes what it wrote.
func writeNew(dir string, files map[string][]byte) (err error) {
	switch entries, err := os.ReadDir(dir); {
	case err == nil && len(entries) > 0:
		return fmt.Errorf("%s is not empty: nothing written (wasgi new writes only into a new or empty folder)", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	created := false
	if _, err := os.Stat(dir); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		created = true
	}
	var written []string
	defer func() {
		if err == nil {
			return
		}
		if created {
			os.RemoveAll(dir)
			return
		}
		for _, p := range written {
			os.Remove(p)
		}
		os.RemoveAll(filepath.Join(dir, sdkDir))
	}()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		written = append(written, p)
	}
	return nil
}

// appName is the name of the app in dir: its base name, lower-cased, with
// every character but letters, digits, '-' and '_' dropped ("app" if none
// is left), so that it is a site name and a Go module path.
func appName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	var b strings.Builder
	for _, r := range strings.ToLower(filepath.Base(abs)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 || b.String()[0] == '-' || b.String()[0] == '_' {
		return "app"
	}
	return b.String()
}
