//go:build wasip1

package guest

import "unsafe"

//go:wasmimport wasgi environ_len
func environLen() int32

//go:wasmimport wasgi environ_read
func environRead(buf unsafe.Pointer, n uint32) int32

//go:wasmimport wasgi body_read
func bodyRead(buf unsafe.Pointer, n uint32) int32

//go:wasmimport wasgi start_response
func startResponse(status unsafe.Pointer, statusLen uint32, headers unsafe.Pointer, headersLen uint32) int32

//go:wasmimport wasgi body_write
func bodyWrite(buf unsafe.Pointer, n uint32) int32

//go:wasmimport wasgi log
func logImport(level int32, buf unsafe.Pointer, n uint32)

// environBuf is reused across requests: an instance serves one request at
// a time, and the environ is copied into strings as it is parsed.
var environBuf = make([]byte, 4096)

type hostTransport struct{}

func (hostTransport) environ() ([]byte, error) {
	for {
		n := environRead(unsafe.Pointer(unsafe.SliceData(environBuf)), uint32(len(environBuf)))
		if n < 0 {
			return nil, errNotAllowed
		}
		if int(n) <= len(environBuf) {
			return environBuf[:n], nil
		}
		environBuf = make([]byte, n)
	}
}

func (hostTransport) bodyRead(p []byte) int32 {
	return bodyRead(unsafe.Pointer(unsafe.SliceData(p)), uint32(len(p)))
}

func (hostTransport) startResponse(status string, headers []byte) int32 {
	return startResponse(unsafe.Pointer(unsafe.StringData(status)), uint32(len(status)),
		unsafe.Pointer(unsafe.SliceData(headers)), uint32(len(headers)))
}

func (hostTransport) bodyWrite(p []byte) int32 {
	return bodyWrite(unsafe.Pointer(unsafe.SliceData(p)), uint32(len(p)))
}

func hostLog(level int32, msg string) {
	logImport(level, unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

// wasgiHandle is the wasgi_handle export: one request.
//
//go:wasmexport wasgi_handle
func wasgiHandle() int32 { return serve(hostTransport{}, handler) }
