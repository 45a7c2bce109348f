// Command cgi is the conformance guest (package abitest) as a plain Go CGI
// program: net/http/cgi.Serve, built as an ordinary wasip1 command
// (GOOS=wasip1 GOARCH=wasm go build), run with abi = "cgi".
package main

import (
	"net/http"
	"net/http/cgi"
	"os"

	"github.com/wasgi/wasgi/abi/abitest"
)

func main() {
	err := cgi.Serve(abitest.Handler(func(_ *http.Request, key string) string {
		return os.Getenv(key)
	}))
	if err != nil {
		os.Exit(1)
	}
}
