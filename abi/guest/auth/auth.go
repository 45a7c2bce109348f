// Package auth lets a wasgi Go app check Basic auth credentials for the
// host, against the app's own user database, like mod_wsgi's
// WSGIAuthUserScript (check_password) and WSGIAuthGroupScript
// (groups_for_user).
//
// Importing this package makes the module export wasgi_check_password and
// wasgi_groups_for_user; a [[site.location]] or [[site.directory]] with
// auth = "<this app>" then asks it. Register the callbacks from init:
//
//	func init() {
//		auth.CheckPassword(func(user, password string) (ok, known bool) { ... })
//		auth.GroupsForUser(func(user string) []string { ... })
//	}
//
// The callbacks run inside the app's own sandbox and pool, so no other site
// ever sees the credentials.
package auth

import (
	"fmt"
	"os"

	"github.com/wasgi/wasgi/abi"
)

var (
	checkFn  func(user, password string) (ok, known bool)
	groupsFn func(user string) []string
)

// CheckPassword registers the password check: ok when the password is
// right, known when the user exists. (ok=false, known=false) is mod_wsgi's
// None, (false, true) its False, (true, true) its True.
func CheckPassword(fn func(user, password string) (ok, known bool)) { checkFn = fn }

// GroupsForUser registers the lookup of a user's groups, for `require =
// ["group NAME"]` rules.
func GroupsForUser(fn func(user string) []string) { groupsFn = fn }

// checkPassword is the body of the wasgi_check_password export.
func checkPassword(user, password string) (code int32) {
	if checkFn == nil {
		fmt.Fprintln(os.Stderr, "auth: no CheckPassword callback registered")
		return invalidAnswer
	}
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintln(os.Stderr, "auth: panic in CheckPassword:", p)
			code = 2
		}
	}()
	switch ok, known := checkFn(user, password); {
	case ok && known:
		return abi.AuthOK
	case known:
		return abi.AuthDenied
	default:
		return abi.AuthUnknownUser
	}
}

// groupsForUser is the body of the wasgi_groups_for_user export: the
// groups, newline-separated, or ok=false on failure.
func groupsForUser(user string) (groups []byte, ok bool) {
	if groupsFn == nil {
		return nil, true
	}
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintln(os.Stderr, "auth: panic in GroupsForUser:", p)
			groups, ok = nil, false
		}
	}()
	for _, g := range groupsFn(user) {
		if g == "" || containsNewline(g) {
			continue
		}
		groups = append(groups, g...)
		groups = append(groups, '\n')
	}
	return groups, true
}

func containsNewline(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			return true
		}
	}
	return false
}

// invalidAnswer is no result of wasgi_check_password (abi.AuthOK,
// abi.AuthDenied, abi.AuthUnknownUser): the host fails closed (500).
const invalidAnswer = 2
