// Command sdk is the conformance guest (package abitest) on the Go SDK.
package main

import (
	"net/http"

	"github.com/wasgi/wasgi/abi/abitest"
	"github.com/wasgi/wasgi/abi/guest"
)

func init() {
	guest.Serve(abitest.Handler(func(r *http.Request) (string, string) {
		return guest.ScriptName(r), guest.PathInfo(r)
	}))
}

func main() {}
