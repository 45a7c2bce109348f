// Command raw is a test guest that uses the ABI without the Go SDK: it
// exports wasgi_handle itself and misuses imports on purpose, reporting
// the codes the host answered. The route is the first byte after
// "PATH_INFO=/" in the environ.
package main

import (
	"bytes"
	"fmt"
	"strings"
	"unsafe"
)

//go:wasmimport wasgi environ_len
func environLen() int32

//go:wasmimport wasgi environ_read
func environRead(buf, n uint32) int32

//go:wasmimport wasgi body_read
func bodyRead(buf, n uint32) int32

//go:wasmimport wasgi start_response
func startResponse(status, statusLen, headers, headersLen uint32) int32

//go:wasmimport wasgi body_write
func bodyWrite(buf, n uint32) int32

//go:wasmimport wasgi auth_user
func authUser(buf, n uint32) int32

func ptr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

func start(status, headers string) int32 {
	s, h := []byte(status), []byte(headers)
	return startResponse(ptr(s), uint32(len(s)), ptr(h), uint32(len(h)))
}

func write(s string) int32 {
	b := []byte(s)
	return bodyWrite(ptr(b), uint32(len(b)))
}

func pathInfo() string {
	n := environLen()
	buf := make([]byte, n)
	environRead(ptr(buf), uint32(n))
	for _, kv := range bytes.Split(buf, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("PATH_INFO=")); ok {
			return string(v)
		}
	}
	return ""
}

//go:wasmexport wasgi_handle
func handle() int32 {
	switch pathInfo() {
	case "/codes":
		var out []string
		buf := make([]byte, 16)
		out = append(out, fmt.Sprintf("body_write_before_start=%d", write("x")))
		out = append(out, fmt.Sprintf("auth_user=%d", authUser(ptr(buf), 16)))
		out = append(out, fmt.Sprintf("bad_status=%d", start("20x Nope", "")))
		out = append(out, fmt.Sprintf("status_1xx=%d", start("101 Switching", "")))
		out = append(out, fmt.Sprintf("status_ctl=%d", start("200 O\nK", "")))
		out = append(out, fmt.Sprintf("injection=%d", start("200 OK", "X-A: 1\r\nX-B: evil\rSet-Cookie: x=1\r\n")))
		out = append(out, fmt.Sprintf("lf_injection=%d", start("200 OK", "X-A: 1\nSet-Cookie: x=1\r\n")))
		out = append(out, fmt.Sprintf("bad_name=%d", start("200 OK", "Bad Name: 1\r\n")))
		out = append(out, fmt.Sprintf("bad_length=%d", start("200 OK", "Content-Length: 12abc\r\n")))
		out = append(out, fmt.Sprintf("many_headers=%d", start("200 OK", strings.Repeat("X-A: 1\r\n", 10000))))
		small := make([]byte, 4)
		out = append(out, fmt.Sprintf("environ_small=%v", environRead(ptr(small), 4) == environLen() && string(small) == "\x00\x00\x00\x00"))
		out = append(out, fmt.Sprintf("first=%d", start("200 OK", "Content-Type: text/plain\r\nConnection: close\r\nX-Kept: yes\r\n")))
		out = append(out, fmt.Sprintf("second=%d", start("404 Not Found", "")))
		body := strings.Join(out, "\n") + "\n"
		if n := write(body); n != int32(len(body)) {
			return 1
		}
		return 0
	case "/nothing":
		return 0 // no start_response: the host must answer 500
	case "/fail":
		return 7 // non-zero before a response: 500
	case "/bodyread":
		start("200 OK", "Content-Type: text/plain\r\n")
		buf := make([]byte, 64<<10)
		total := 0
		for {
			n := bodyRead(ptr(buf), uint32(len(buf)))
			if n <= 0 {
				write(fmt.Sprintf("read %d bytes, last %d, again %d\n", total, n, bodyRead(ptr(buf), uint32(len(buf)))))
				return 0
			}
			total += int(n)
		}
	}
	start("404 Not Found", "Content-Type: text/plain\r\n")
	write("no such route\n")
	return 0
}

func main() {}
