// Command hello is the smallest wasgi app: an ordinary net/http handler
// served from a WebAssembly sandbox.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hello.wasm .
package main

import (
	"fmt"
	"net/http"

	"github.com/wasgi/wasgi/abi/guest"
)

func init() {
	guest.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Hello from wasgi! You asked for %s\n", r.URL.Path)
	})
}

// main never runs in a reactor; init registers the handler.
func main() {}
