package sandbox

import (
	"context"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasgi/wasgi/abi"
)

// authFuncs serve the auth exports wasgi_check_password and
// wasgi_groups_for_user (abi/ABI.md, "Auth providers").
var authFuncs = []hostFunc{
	newHostFunc(abi.FuncAuthUser, authUser, "len", "buf", "buf_len"),
	newHostFunc(abi.FuncAuthPassword, authPassword, "len", "buf", "buf_len"),
	newHostFunc(abi.FuncAuthGroups, authGroups, "errno", "buf", "buf_len"),
}

// authUser backs auth_user(buf, len) -> i32: the user name, during
// wasgi_check_password and wasgi_groups_for_user only (abi.ErrNotAllowed
// otherwise). Same buffer rule as environ_read.
func authUser(ctx context.Context, m api.Module, stack []uint64) {
	buf := guestBytes(m, abi.FuncAuthUser, stack[0], stack[1])
	c := callFrom(ctx)
	if c == nil || (c.phase != phaseCheckPassword && c.phase != phaseGroups) {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return
	}
	stack[0] = api.EncodeI32(copyIfFits(buf, c.User))
}

// authPassword backs auth_password(buf, len) -> i32: the password, during
// wasgi_check_password only.
func authPassword(ctx context.Context, m api.Module, stack []uint64) {
	buf := guestBytes(m, abi.FuncAuthPassword, stack[0], stack[1])
	c := callFrom(ctx)
	if c == nil || c.phase != phaseCheckPassword {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return
	}
	stack[0] = api.EncodeI32(copyIfFits(buf, c.Password))
}

// maxGroups caps what one auth_groups call may hand the host.
const maxGroups = 1000

// authGroups backs auth_groups(buf, len) -> i32: the guest hands the
// user's groups, newline-separated, during wasgi_groups_for_user only; 0
// or abi.ErrNotAllowed. A later call replaces an earlier one.
func authGroups(ctx context.Context, m api.Module, stack []uint64) {
	buf := guestBytes(m, abi.FuncAuthGroups, stack[0], stack[1])
	c := callFrom(ctx)
	if c == nil || c.phase != phaseGroups {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return
	}
	c.groups = c.groups[:0]
	for line := range strings.SplitSeq(string(buf), "\n") {
		if g := strings.TrimSpace(line); g != "" && len(c.groups) < maxGroups {
			c.groups = append(c.groups, g)
		}
	}
	stack[0] = 0
}
