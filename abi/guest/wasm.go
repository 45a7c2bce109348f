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

// environSize is the size of the next request's environ buffer: the last
// environ's and some room. The buffer is then the request's own (its
// strings are views of it), so the environ is copied once, by the host.
var environSize = 1024

type hostTransport struct{}

func (hostTransport) environ() ([]byte, error) {
	buf := make([]byte, environSize)
	for {
		n := environRead(unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)))
		if n < 0 {
			return nil, errNotAllowed
		}
		fits := int(n) <= len(buf)
		environSize = int(n) + 64 // room for RemoteAddr and a longer path next time
		if fits {
			return buf[:n], nil
		}
		buf = make([]byte, environSize)
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

//go:wasmimport wasgi net_connect
func netConnect(addr unsafe.Pointer, n uint32, info unsafe.Pointer) int32

//go:wasmimport wasgi net_read
func netRead(h int32, buf unsafe.Pointer, n uint32, timeoutMS int32) int32

//go:wasmimport wasgi net_write
func netWrite(h int32, buf unsafe.Pointer, n uint32, timeoutMS int32) int32

//go:wasmimport wasgi net_shutdown
func netShutdown(h int32) int32

//go:wasmimport wasgi net_close
func netClose(h int32) int32

func hostNetConnect(addr string) (int32, uint32) {
	var info uint32
	h := netConnect(unsafe.Pointer(unsafe.StringData(addr)), uint32(len(addr)), unsafe.Pointer(&info))
	return h, info
}

func hostNetRead(h int32, p []byte, timeoutMS int32) int32 {
	return netRead(h, unsafe.Pointer(unsafe.SliceData(p)), uint32(len(p)), timeoutMS)
}

func hostNetWrite(h int32, p []byte, timeoutMS int32) int32 {
	return netWrite(h, unsafe.Pointer(unsafe.SliceData(p)), uint32(len(p)), timeoutMS)
}

func hostNetShutdown(h int32) int32 { return netShutdown(h) }

func hostNetClose(h int32) int32 { return netClose(h) }
