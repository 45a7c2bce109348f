package sandbox

import (
	"errors"
	"io"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/abi"
)

// Call is one request as a guest sees it through the ABI: the host fills the
// inputs, the host functions (host_*.go) read and answer through it.
//
// A Call knows nothing of net/http: the host hands it a [Response] (for an
// HTTP request, [HTTPResponse]) and a Body (for an HTTP request,
// [HTTPBody]), so the same ABI serves requests that come from elsewhere.
type Call struct {
	// Environ is the encoded environ (see abi.AppendEnviron).
	Environ []byte
	// Body is the request body; nil reads as empty. A read error that
	// wraps [ErrBodyTooLarge] reaches the guest as abi.ErrBodyTooLarge.
	Body io.Reader
	// W receives the status, headers and body the guest answers.
	W Response
	// Log is the request's logger (site, app, request id); guest log calls
	// go there.
	Log zerolog.Logger
	// User and Password are the Basic credentials handed to the auth
	// exports (auth_user, auth_password); never visible to wasgi_handle.
	User, Password string

	groups  []string // set by auth_groups
	fields  []HeaderField
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

// BodyTooLarge reports whether the guest's read of the body hit max_body.
func (c *Call) BodyTooLarge() bool { return c.bodyErr == abi.ErrBodyTooLarge }

// ErrBodyTooLarge is what a [Call]'s Body returns (wrapped or not) once the
// body passes the host's limit.
var ErrBodyTooLarge = errors.New("sandbox: request body too large")

// Response receives a guest's answer. sandbox has already checked what
// it hands over: the status is 200..599, every field is a valid header
// line (a token name, a value free of CR, LF and NUL), there is at most
// one Content-Length and it is digits only.
type Response interface {
	// Start sends the status and header fields; it is called once,
	// before any Write. Fields are in the guest's order, names as the
	// guest spelled them.
	Start(status int, fields []HeaderField) error
	// Write sends response body bytes.
	Write(p []byte) (int, error)
	// Flush sends what is buffered to the client now.
	Flush() error
}

// HeaderField is one response header line.
type HeaderField struct{ Name, Value string }

// phase says which guest export is running, hence which imports it may use.
type phase uint8

const (
	phaseNone          phase = iota // _initialize or no call at all
	phaseHandle                     // wasgi_handle
	phaseCheckPassword              // wasgi_check_password
	phaseGroups                     // wasgi_groups_for_user
)
