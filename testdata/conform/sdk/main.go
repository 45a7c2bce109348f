// Command sdk is the conformance guest (package abitest) on the Go SDK.
package main

import (
	"github.com/wasgi/wasgi/abi/abitest"
	"github.com/wasgi/wasgi/abi/guest"
	"github.com/wasgi/wasgi/abi/guest/auth"
)

func init() {
	guest.Serve(abitest.Handler(guest.Getenv))
	auth.CheckPassword(abitest.CheckPassword)
	auth.GroupsForUser(abitest.GroupsForUser)
}

func main() {}
