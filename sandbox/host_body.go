package sandbox

import (
	"context"
	"errors"
	"io"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasgi/wasgi/abi"
)

// bodyFuncs stream the request body in and the response body out
// (abi/ABI.md, "Request" and "Response").
var bodyFuncs = []hostFunc{
	newHostFunc(abi.FuncBodyRead, bodyRead, "n", "buf", "buf_len"),
	newHostFunc(abi.FuncBodyWrite, bodyWrite, "n", "buf", "buf_len"),
}

// bodyRead backs body_read(buf, len) -> i32: up to len bytes of the body
// read straight into guest memory; 0 at the end; abi.ErrIO,
// abi.ErrBodyTooLarge (then again on every later read), or
// abi.ErrNotAllowed outside wasgi_handle.
func bodyRead(ctx context.Context, m api.Module, stack []uint64) {
	buf := guestBytes(m, abi.FuncBodyRead, stack[0], stack[1])
	c := callFrom(ctx)
	if c == nil || c.phase != phaseHandle {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return
	}
	stack[0] = api.EncodeI32(c.readBody(buf))
}

func (c *Call) readBody(buf []byte) int32 {
	if c.bodyErr != 0 {
		return c.bodyErr
	}
	if c.Body == nil || len(buf) == 0 {
		return 0
	}
	for range 100 { // a Reader may return 0, nil; do not spin forever
		n, err := c.Body.Read(buf)
		if n > 0 {
			return int32(n) // err, if any, comes again on the next read
		}
		switch {
		case err == io.EOF:
			return 0
		case errors.Is(err, ErrBodyTooLarge):
			c.bodyErr = abi.ErrBodyTooLarge
			return c.bodyErr
		case err != nil:
			c.bodyErr = abi.ErrIO
			return c.bodyErr
		}
	}
	c.bodyErr = abi.ErrIO
	return c.bodyErr
}

// bodyWrite backs body_write(buf, len) -> i32: sends buf[0:len] and
// returns len; a write of length 0 flushes the response to the client.
// abi.ErrNotStarted before start_response, abi.ErrIO when the client is
// gone, abi.ErrNotAllowed outside wasgi_handle.
func bodyWrite(ctx context.Context, m api.Module, stack []uint64) {
	buf := guestBytes(m, abi.FuncBodyWrite, stack[0], stack[1])
	c := callFrom(ctx)
	switch {
	case c == nil || c.phase != phaseHandle:
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
	case c.status == 0:
		stack[0] = api.EncodeI32(abi.ErrNotStarted)
	case len(buf) == 0:
		if c.W.Flush() != nil {
			stack[0] = api.EncodeI32(abi.ErrIO)
			return
		}
		stack[0] = 0
	default:
		n, err := c.W.Write(buf)
		c.written += int64(n)
		if err != nil {
			stack[0] = api.EncodeI32(abi.ErrIO)
			return
		}
		stack[0] = api.EncodeI32(int32(n))
	}
}
