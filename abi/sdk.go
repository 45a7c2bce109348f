//go:build !wasip1

package abi

import (
	"embed"
	"io/fs"
	"strings"
)

// sdk is the source of the Go guest SDK as it sits under abi/ in the
// module: this package, abi/guest with abi/guest/auth, the C header and
// ABI.md (test files included; SDK leaves them out). The module is not
// published, so `wasgi new go` writes this copy beside a new app and
// points the app's go.mod at it. Guests (GOOS=wasip1) never carry it.
//
//go:embed *.go ABI.md guest/*.go guest/auth/*.go include/wasgi.h
var sdk embed.FS

// SDK returns the source of the Go guest SDK and the C header, as the
// files under abi/ in the module github.com/wasgi/wasgi: "abi.go",
// "guest/guest.go", "include/wasgi.h", and so on, without test files.
// Writing them under abi/ of a folder with a go.mod naming that module
// gives a module that the go command can use offline through a replace
// directive.
func SDK() fs.FS { return sdkFiles{sdk} }

// sdkFiles hides the embedded test files.
type sdkFiles struct{ fs.ReadDirFS }

func (f sdkFiles) Open(name string) (fs.File, error) {
	if isTest(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return f.ReadDirFS.Open(name)
}

func (f sdkFiles) ReadDir(name string) ([]fs.DirEntry, error) {
	all, err := f.ReadDirFS.ReadDir(name)
	var out []fs.DirEntry
	for _, e := range all {
		if !isTest(e.Name()) {
			out = append(out, e)
		}
	}
	return out, err
}

func isTest(name string) bool {
	return strings.HasSuffix(name, "_test.go")
}
