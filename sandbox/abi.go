package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasgi/wasgi/abi"
)

// Call is one request as a guest sees it through the ABI: the host fills the
// inputs, the host functions below read and answer through it.
type Call struct {
	// Environ is the encoded environ (see abi.AppendEnviron).
	Environ []byte
	// Body is the request body; nil reads as empty.
	Body io.Reader
	// W receives the status, headers and body the guest answers.
	W http.ResponseWriter
	// Log is the request's logger (site, app, request id); guest log calls
	// go there.
	Log zerolog.Logger
	// User and Password are the Basic credentials handed to the auth
	// exports (auth_user, auth_password); never visible to wasgi_handle.
	User, Password string

	groups  []string // set by auth_groups
	phase   phase
	status  int
	written int64
	bodyErr int32 // first negative body_read result
}

// Started reports whether the guest's start_response succeeded.
func (c *Call) Started() bool { return c.status != 0 }

// Status is the status the guest answered, 0 before start_response.
func (c *Call) Status() int { return c.status }

// Written is the number of response body bytes the guest wrote.
func (c *Call) Written() int64 { return c.written }

// phase says which guest export is running, hence which imports it may use.
type phase uint8

const (
	phaseNone          phase = iota // _initialize or no call at all
	phaseHandle                     // wasgi_handle
	phaseCheckPassword              // wasgi_check_password
	phaseGroups                     // wasgi_groups_for_user
)

type callKey struct{}

func callFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// Limits on what a guest may hand start_response.
const (
	maxStatusLen  = 1 << 10
	maxHeaderLen  = 1 << 20
	maxHeaderRows = 1000
)

var (
	i32 = api.ValueTypeI32
	// hostSignatures are the ABI imports, checked against each module's
	// imports at compile time.
	hostSignatures = map[string]sig{
		abi.FuncEnvironLen:    {results: []api.ValueType{i32}},
		abi.FuncEnvironRead:   {params: []api.ValueType{i32, i32}, results: []api.ValueType{i32}},
		abi.FuncBodyRead:      {params: []api.ValueType{i32, i32}, results: []api.ValueType{i32}},
		abi.FuncStartResponse: {params: []api.ValueType{i32, i32, i32, i32}, results: []api.ValueType{i32}},
		abi.FuncBodyWrite:     {params: []api.ValueType{i32, i32}, results: []api.ValueType{i32}},
		abi.FuncAuthUser:      {params: []api.ValueType{i32, i32}, results: []api.ValueType{i32}},
		abi.FuncAuthPassword:  {params: []api.ValueType{i32, i32}, results: []api.ValueType{i32}},
		abi.FuncAuthGroups:    {params: []api.ValueType{i32, i32}, results: []api.ValueType{i32}},
		abi.FuncLog:           {params: []api.ValueType{i32, i32, i32}},
	}
	hostFuncs = map[string]api.GoModuleFunc{
		abi.FuncEnvironLen:    environLen,
		abi.FuncEnvironRead:   environRead,
		abi.FuncBodyRead:      bodyRead,
		abi.FuncStartResponse: startResponse,
		abi.FuncBodyWrite:     bodyWrite,
		abi.FuncAuthUser:      authUser,
		abi.FuncAuthPassword:  authPassword,
		abi.FuncAuthGroups:    authGroups,
		abi.FuncLog:           logFunc,
	}
)

// instantiateHostModule registers module "wasgi" once per runtime; every
// guest links against the same host functions, which find their request in
// the call's context.
func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ModuleName)
	for name, s := range hostSignatures {
		b.NewFunctionBuilder().WithGoModuleFunction(hostFuncs[name], s.params, s.results).Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// errOutOfBounds is the trap raised when a guest hands the host a buffer
// outside its own memory.
var errOutOfBounds = errors.New("out of bounds memory access")

// guestBytes returns the guest's buf[0:len] as a view into its memory, or
// traps the guest when the range is not inside its memory.
func guestBytes(m api.Module, fn string, ptr, n uint64) []byte {
	b, ok := m.Memory().Read(uint32(ptr), uint32(n))
	if !ok {
		panic(fmt.Errorf("wasgi: %s(%#x, %d): %w", fn, uint32(ptr), uint32(n), errOutOfBounds))
	}
	return b
}

// environLen backs the ABI import environ_len (abi.FuncEnvironLen).
func environLen(ctx context.Context, _ api.Module, stack []uint64) {
	c := callFrom(ctx)
	if c == nil || c.phase == phaseNone {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return
	}
	stack[0] = api.EncodeI32(int32(len(c.Environ)))
}

// environRead backs the ABI import environ_read (abi.FuncEnvironRead).
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

// bodyRead backs the ABI import body_read (abi.FuncBodyRead). The body is
// read straight into guest memory.
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
		case err != nil:
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				c.bodyErr = abi.ErrBodyTooLarge
			} else {
				c.bodyErr = abi.ErrIO
			}
			return c.bodyErr
		}
	}
	c.bodyErr = abi.ErrIO
	return c.bodyErr
}

// BodyTooLarge reports whether the guest's read of the body hit max_body.
func (c *Call) BodyTooLarge() bool { return c.bodyErr == abi.ErrBodyTooLarge }

// startResponse backs the ABI import start_response (abi.FuncStartResponse).
// The status and every header line are checked before anything is sent, so
// a rejected call leaves the response untouched.
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
	if len(headers) > maxHeaderLen || !eachHeader(headers, func(_, _ []byte) bool { return true }) {
		return abi.ErrInvalidHeader
	}
	// A header the guest sends replaces one the host set before (such as
	// X-Request-Id) rather than doubling it.
	h := c.W.Header()
	eachHeader(headers, func(name, _ []byte) bool {
		if k := textproto.CanonicalMIMEHeaderKey(string(name)); !hopByHop[k] {
			h.Del(k) // never the host's own Connection: close
		}
		return true
	})
	eachHeader(headers, func(name, value []byte) bool {
		k := textproto.CanonicalMIMEHeaderKey(string(name))
		if !hopByHop[k] {
			h.Add(k, string(value))
		}
		return true
	})
	c.status = code
	c.W.WriteHeader(code)
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
func eachHeader(b []byte, fn func(name, value []byte) bool) bool {
	rows, sawLength := 0, false
	for len(b) > 0 {
		var line []byte
		if i := indexCRLF(b); i >= 0 {
			line, b = b[:i], b[i+2:]
		} else {
			line, b = b, nil
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
		colon := -1
		for i, ch := range line {
			if ch == ':' {
				colon = i
				break
			}
		}
		if colon <= 0 || !isToken(line[:colon]) {
			return false
		}
		value := trimOWS(line[colon+1:])
		for _, ch := range value {
			if ch == '\r' || ch == '\n' || ch == 0 || (ch < ' ' && ch != '\t') || ch == 0x7f {
				return false
			}
		}
		name := line[:colon]
		if len(name) == len("Content-Length") && textproto.CanonicalMIMEHeaderKey(string(name)) == "Content-Length" {
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

func indexCRLF(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' {
			return i
		}
	}
	return -1
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isDigits(b []byte) bool {
	if len(b) == 0 || len(b) > 18 {
		return false
	}
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return false
		}
	}
	return true
}

// isToken reports whether b is an RFC 9110 token (a valid header name).
func isToken(b []byte) bool {
	for _, ch := range b {
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

// hopByHop headers belong to the connection, which the host owns.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// bodyWrite backs the ABI import body_write (abi.FuncBodyWrite). A write
// of length 0 flushes the response to the client.
func bodyWrite(ctx context.Context, m api.Module, stack []uint64) {
	buf := guestBytes(m, abi.FuncBodyWrite, stack[0], stack[1])
	c := callFrom(ctx)
	switch {
	case c == nil || c.phase != phaseHandle:
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
	case c.status == 0:
		stack[0] = api.EncodeI32(abi.ErrNotStarted)
	case len(buf) == 0:
		if http.NewResponseController(c.W).Flush() != nil {
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

// authUser backs the ABI import auth_user (abi.FuncAuthUser): the user
// name, during wasgi_check_password and wasgi_groups_for_user only. Same
// buffer rule as environ_read.
func authUser(ctx context.Context, m api.Module, stack []uint64) {
	buf := guestBytes(m, abi.FuncAuthUser, stack[0], stack[1])
	c := callFrom(ctx)
	if c == nil || (c.phase != phaseCheckPassword && c.phase != phaseGroups) {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return
	}
	stack[0] = api.EncodeI32(copyIfFits(buf, c.User))
}

// authPassword backs the ABI import auth_password (abi.FuncAuthPassword):
// the password, during wasgi_check_password only.
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

// authGroups backs the ABI import auth_groups (abi.FuncAuthGroups): the
// guest hands the user's groups, newline-separated, during
// wasgi_groups_for_user only. A later call replaces an earlier one.
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

// copyIfFits writes s into buf when it fits and returns len(s).
func copyIfFits(buf []byte, s string) int32 {
	if len(buf) >= len(s) {
		copy(buf, s)
	}
	return int32(len(s))
}

// maxLogLen caps one guest log message.
const maxLogLen = 8 << 10

// logFunc backs the ABI import log (abi.FuncLog).
func logFunc(ctx context.Context, m api.Module, stack []uint64) {
	buf := guestBytes(m, abi.FuncLog, stack[1], stack[2])
	if len(buf) > maxLogLen {
		buf = buf[:maxLogLen]
	}
	var l *zerolog.Logger
	if c := callFrom(ctx); c != nil {
		l = &c.Log
	} else if il := instanceLogFrom(ctx); il != nil {
		l = il
	} else {
		return
	}
	var ev *zerolog.Event
	switch api.DecodeI32(stack[0]) {
	case abi.LogDebug:
		ev = l.Debug()
	case abi.LogWarn:
		ev = l.Warn()
	case abi.LogError:
		ev = l.Error()
	default:
		ev = l.Info()
	}
	ev.Str("source", "guest").Msg(sanitize(buf))
}
