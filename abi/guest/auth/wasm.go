//go:build wasip1

package auth

import "unsafe"

//go:wasmimport wasgi auth_user
func authUser(buf unsafe.Pointer, n uint32) int32

//go:wasmimport wasgi auth_password
func authPassword(buf unsafe.Pointer, n uint32) int32

//go:wasmimport wasgi auth_groups
func authGroups(buf unsafe.Pointer, n uint32) int32

// read calls a read-style import, growing the buffer once if needed.
func read(f func(unsafe.Pointer, uint32) int32) (string, bool) {
	buf := make([]byte, 256)
	for range 2 {
		n := f(unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)))
		if n < 0 {
			return "", false
		}
		if int(n) <= len(buf) {
			return string(buf[:n]), true
		}
		buf = make([]byte, n)
	}
	return "", false
}

//go:wasmexport wasgi_check_password
func wasgiCheckPassword() int32 {
	user, ok1 := read(authUser)
	password, ok2 := read(authPassword)
	if !ok1 || !ok2 {
		return 2
	}
	return checkPassword(user, password)
}

//go:wasmexport wasgi_groups_for_user
func wasgiGroupsForUser() int32 {
	user, ok := read(authUser)
	if !ok {
		return 1
	}
	groups, ok := groupsForUser(user)
	if !ok {
		return 1
	}
	if len(groups) > 0 && authGroups(unsafe.Pointer(unsafe.SliceData(groups)), uint32(len(groups))) != 0 {
		return 1
	}
	return 0
}
