package sandbox

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasgi/wasgi/abi"
)

// environFuncs give the guest the request's environ (abi/ABI.md, "Request").
var environFuncs = []hostFunc{
	newHostFunc(abi.FuncEnvironLen, environLen, "len"),
	newHostFunc(abi.FuncEnvironRead, environRead, "len", "buf", "buf_len"),
}

// environLen backs environ_len() -> i32: the size of the encoded environ,
// or abi.ErrNotAllowed outside a call.
func environLen(ctx context.Context, _ api.Module, stack []uint64) {
	c := callFrom(ctx)
	if c == nil || c.phase == phaseNone {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return
	}
	stack[0] = api.EncodeI32(int32(len(c.Environ)))
}

// environRead backs environ_read(buf, len) -> i32.
//
//	    buf                          buf+len
//	     |<-------- environ -------->|
//	[...]K=V\0K=V\0 ... K=V\0[ unused ][...]
//
// When len is smaller than the environ nothing is written and the result
// still is the full length, so the guest can retry with a bigger buffer.
func environRead(ctx context.Context, m api.Module, stack []uint64) {
	buf := guestBytes(m, abi.FuncEnvironRead, stack[0], stack[1])
	c := callFrom(ctx)
	if c == nil || c.phase == phaseNone {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return
	}
	if len(buf) >= len(c.Environ) {
		copy(buf, c.Environ)
	}
	stack[0] = api.EncodeI32(int32(len(c.Environ)))
}
