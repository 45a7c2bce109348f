package sandbox

import (
	"context"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasgi/wasgi/abi"
)

// responseFuncs start the response (abi/ABI.md, "Response"); body_write is
// in host_body.go.
var responseFuncs = []hostFunc{
	newHostFunc(abi.FuncStartResponse, startResponse, "errno", "status", "status_len", "headers", "headers_len"),
}

// Limits on what a guest may hand start_response.
const (
	maxStatusLen  = 1 << 10
	maxHeaderLen  = 1 << 20
	maxHeaderRows = 1000
)

// startResponse backs start_response(status, status_len, headers,
// headers_len) -> i32: 0, or abi.ErrInvalidStatus, abi.ErrInvalidHeader,
// abi.ErrAlreadyStarted, abi.ErrNotAllowed outside wasgi_handle. The status
// and every header line are checked before anything is sent, so a
// rejected call leaves the response untouched.
func startResponse(ctx context.Context, m api.Module, stack []uint64) {
	status := guestBytes(m, abi.FuncStartResponse, stack[0], stack[1])
	headers := guestBytes(m, abi.FuncStartResponse, stack[2], stack[3])
	c := callFrom(ctx)
	switch {
	case c == nil || c.phase != phaseHandle:
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
	case c.status != 0:
		stack[0] = api.EncodeI32(abi.ErrAlreadyStarted)
	default:
		stack[0] = api.EncodeI32(c.startResponse(status, headers))
	}
}

func (c *Call) startResponse(status, headers []byte) int32 {
	code, ok := ParseStatus(status)
	if !ok {
		return abi.ErrInvalidStatus
	}
	if len(headers) > maxHeaderLen {
		return abi.ErrInvalidHeader
	}
	// One copy of the whole block out of guest memory; every name and
	// value is a substring of it.
	fields := c.fields[:0]
	if !eachHeader(string(headers), func(name, value string) bool {
		fields = append(fields, HeaderField{name, value})
		return true
	}) {
		return abi.ErrInvalidHeader
	}
	c.fields = fields
	c.status = code
	if c.W.Start(code, fields) != nil {
		return abi.ErrIO
	}
	return 0
}

// ParseStatus parses a start_response status: "NNN" or "NNN reason", NNN in
// 200..599, the reason free of control characters.
func ParseStatus(b []byte) (int, bool) {
	if len(b) < 3 || len(b) > maxStatusLen {
		return 0, false
	}
	code := 0
	for _, d := range b[:3] {
		if d < '0' || d > '9' {
			return 0, false
		}
		code = code*10 + int(d-'0')
	}
	if code < 200 || code > 599 {
		return 0, false
	}
	if len(b) > 3 {
		if b[3] != ' ' {
			return 0, false
		}
		for _, ch := range b[4:] {
			if ch < ' ' && ch != '\t' || ch == 0x7f {
				return 0, false
			}
		}
	}
	return code, true
}

// eachHeader walks `Name: value\r\n` lines, calling fn with each trimmed
// name and value, and reports false at the first malformed line (then fn
// may have seen the lines before it).
func eachHeader(b string, fn func(name, value string) bool) bool {
	rows, sawLength := 0, false
	for len(b) > 0 {
		var line string
		if i := strings.Index(b, "\r\n"); i >= 0 {
			line, b = b[:i], b[i+2:]
		} else {
			line, b = b, ""
		}
		if len(line) == 0 {
			if len(b) == 0 {
				return true // a final blank line ends the block
			}
			return false
		}
		if rows++; rows > maxHeaderRows {
			return false
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return false
		}
		value := trimOWS(line[colon+1:])
		for i := 0; i < len(value); i++ {
			ch := value[i]
			if ch == '\r' || ch == '\n' || ch == 0 || (ch < ' ' && ch != '\t') || ch == 0x7f {
				return false
			}
		}
		name := line[:colon]
		if len(name) == len("Content-Length") && equalFold(name, "content-length") {
			// One Content-Length, digits only: two could frame the
			// response differently for a proxy in front (desync).
			if !isDigits(value) || sawLength {
				return false
			}
			sawLength = true
		}
		if !fn(name, value) {
			return false
		}
	}
	return true
}

// equalFold reports whether b is lower, a lower-case ASCII name, in any
// case.
func equalFold(b, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func trimOWS(b string) string {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isDigits(b string) bool {
	if len(b) == 0 || len(b) > 18 {
		return false
	}
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if ch < '0' || ch > '9' {
			return false
		}
	}
	return true
}

// isToken reports whether b is an RFC 9110 token (a valid header name).
func isToken(b string) bool {
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if ch >= 0x80 || !tokenChars[ch] {
			return false
		}
	}
	return len(b) > 0
}

var tokenChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
