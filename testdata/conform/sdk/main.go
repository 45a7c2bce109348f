// Command sdk is the conformance guest (package abitest) on the Go SDK.
package main

import (
	"net/http"

	"github.com/wasgi/wasgi/abi/abitest"
	"github.com/wasgi/wasgi/abi/guest"
	"github.com/wasgi/wasgi/abi/guest/auth"
)

func init() {
	guest.Serve(abitest.Handler(func(r *http.Request, key string) string {
		return guest.Environ(r)[key]
	}))
	auth.CheckPassword(abitest.CheckPassword)
	auth.GroupsForUser(abitest.GroupsForUser)
}

func main() {}
