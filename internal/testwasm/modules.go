package testwasm

// Runaway is a module with one memory and two exports that never end:
// "spin", a loop (loop (br 0)), and "recurse", a naive recursion without
// loops that makes 2^62 calls. The rewriter's and the sandbox's tests
// stop it.
var Runaway = []byte("\x00asm\x01\x00\x00\x00" +
	"\x01\x0a\x02\x60\x00\x01\x7f\x60\x01\x7f\x01\x7f" + // types: () -> i32, (i32) -> i32
	"\x03\x04\x03\x00\x01\x00" + // funcs: spin, rec, recurse
	"\x05\x03\x01\x00\x01" + // memory 1
	"\x07\x12\x02\x04spin\x00\x00\x07recurse\x00\x02" +
	"\x0a\x2d\x03" +
	"\x09\x00\x03\x40\x0c\x00\x0b\x41\x00\x0b" + // spin: loop br 0 end; i32.const 0
	// rec(n): n == 0 ? 0 : rec(n-1) + rec(n-1)
	"\x1a\x00\x20\x00\x45\x04\x7f\x41\x00\x05\x20\x00\x41\x01\x6b\x10\x01\x20\x00\x41\x01\x6b\x10\x01\x6a\x0b\x0b" +
	"\x06\x00\x41\x3e\x10\x01\x0b") // recurse: rec(62)

// WithData is Runaway with two data segments 14 bytes apart, which the
// rewriter's data coalescing merges.
var WithData = append(append([]byte(nil), Runaway...),
	"\x0b\x0f\x02\x00\x41\x00\x0b\x02hi\x00\x41\x10\x0b\x02yo"...)
