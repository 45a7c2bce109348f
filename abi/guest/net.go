package guest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/wasgi/wasgi/abi"
)

// Outbound connections (abi/ABI.md section 4.8). WASI preview 1 cannot open
// a socket; these go through the host, which lets the guest reach exactly
// what its app's `outbound` list names. The host resolves names: give
// drivers the name, not an address you looked up (there is no DNS in the
// guest).

// Errors of DialContext, wrapped in a *net.OpError.
var (
	// ErrDenied: the app's outbound list does not name the destination,
	// or it resolves to an address the host refuses (loopback,
	// link-local, metadata, its own listeners) that the entry does not
	// name literally.
	ErrDenied = errors.New("wasgi: destination not allowed by the app's outbound list")
	// ErrConnect: allowed, but the host could not reach it (no address,
	// refused, unreachable, TLS handshake failed).
	ErrConnect = errors.New("wasgi: cannot connect")
	// ErrTooManyConns: the instance or the app holds its limit of
	// connections (outbound_limit, outbound_app_limit).
	ErrTooManyConns = errors.New("wasgi: too many outbound connections")
)

// Dial connects to addr; see DialContext.
func Dial(network, addr string) (net.Conn, error) {
	return DialContext(context.Background(), network, addr)
}

// DialContext connects to addr, "host:port" as the app's outbound list
// names it, over network "tcp" (or "tcp4", "tcp6": the host picks the
// address). Through a tls:// entry the host does TLS and the connection
// carries plaintext (Conn.TLS reports it). The connection honours
// deadlines, and ctx while connecting only in that a done ctx fails the
// dial before it starts: the host bounds the connect itself
// (outbound_connect_timeout, the request's deadline).
//
// Hooks for drivers: pgx's Config.DialFunc (with Config.LookupFunc
// returning the name unchanged), go-sql-driver/mysql's
// RegisterDialContext, go-redis's Options.Dialer.
func DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	h, flags := hostNetConnect(addr)
	if h <= 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: hostAddr(addr), Err: netError(h, "dial", addr)}
	}
	return &Conn{h: h, tls: flags&abi.NetTLS != 0, addr: addr}, nil
}

// Conn is a connection the host opened for the guest.
type Conn struct {
	h    int32
	tls  bool
	addr string

	mu     sync.Mutex
	rd, wd time.Time
	closed bool
}

// TLS reports whether the host does TLS for this connection (a tls://
// entry): the guest then reads and writes plaintext.
func (c *Conn) TLS() bool { return c.tls }

// slice is the longest a read blocks the whole instance (no other
// goroutine runs while an import blocks): a goroutine waiting longer
// lets the others run between slices.
const slice = 2 * time.Millisecond

// Read reads from the connection, until its read deadline if one is set.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		c.mu.Lock()
		closed, dl := c.closed, c.rd
		c.mu.Unlock()
		if closed {
			return 0, c.opError("read", net.ErrClosed)
		}
		wait := slice
		if !dl.IsZero() {
			left := time.Until(dl)
			if left <= 0 {
				return 0, c.opError("read", os.ErrDeadlineExceeded)
			}
			wait = min(wait, left)
		}
		n := hostNetRead(c.h, p, int32(max(wait/time.Millisecond, 1)))
		switch {
		case n > 0:
			return int(n), nil
		case n == 0:
			return 0, io.EOF
		case n != abi.ErrTimeout:
			return 0, c.opError("read", netError(n, "read", c.addr))
		}
		runtime.Gosched() // nothing yet: let the instance's other goroutines run
	}
}

// Write writes p, until the write deadline if one is set.
func (c *Conn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		c.mu.Lock()
		closed, dl := c.closed, c.wd
		c.mu.Unlock()
		if closed {
			return written, c.opError("write", net.ErrClosed)
		}
		timeout := abi.NetWaitDeadline
		if !dl.IsZero() {
			left := time.Until(dl)
			if left <= 0 {
				return written, c.opError("write", os.ErrDeadlineExceeded)
			}
			timeout = int32(max(left/time.Millisecond, 1))
		}
		n := hostNetWrite(c.h, p[written:], timeout)
		switch {
		case n > 0:
			written += int(n)
		case n == abi.ErrTimeout:
			if dl.IsZero() {
				return written, c.opError("write", os.ErrDeadlineExceeded) // the request's own deadline
			}
		default:
			return written, c.opError("write", netError(n, "write", c.addr))
		}
	}
	return written, nil
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("close", net.ErrClosed)
	}
	c.closed = true
	hostNetClose(c.h)
	return nil
}

// CloseWrite shuts the write side: the peer reads the end of the stream.
func (c *Conn) CloseWrite() error {
	if n := hostNetShutdown(c.h); n < 0 {
		return c.opError("close", netError(n, "shutdown", c.addr))
	}
	return nil
}

// LocalAddr is unknown to the guest: the host owns the socket.
func (c *Conn) LocalAddr() net.Addr { return hostAddr("") }

// RemoteAddr is the destination as dialled.
func (c *Conn) RemoteAddr() net.Addr { return hostAddr(c.addr) }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rd, c.wd = t, t
	c.mu.Unlock()
	return nil
}

// SetReadDeadline sets the read deadline; zero means none (the request's
// own deadline still applies).
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rd = t
	c.mu.Unlock()
	return nil
}

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wd = t
	c.mu.Unlock()
	return nil
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Addr: hostAddr(c.addr), Err: err}
}

// hostAddr is an address as the guest named it.
type hostAddr string

func (a hostAddr) Network() string { return "tcp" }
func (a hostAddr) String() string  { return string(a) }

// netError maps a negative net_ result to an error.
func netError(code int32, op, addr string) error {
	switch code {
	case abi.ErrDenied:
		return fmt.Errorf("%w: %s (list it in outbound, e.g. \"tcp://%s\")", ErrDenied, addr, addr)
	case abi.ErrConnect:
		return fmt.Errorf("%w to %s (the host's log says why)", ErrConnect, addr)
	case abi.ErrTooManyConns:
		return ErrTooManyConns
	case abi.ErrTimeout:
		return os.ErrDeadlineExceeded
	case abi.ErrBadHandle:
		return net.ErrClosed
	case abi.ErrNotAllowed:
		return errNotAllowed
	}
	return fmt.Errorf("wasgi: %s: error %d", op, code)
}

// Transport is an http.RoundTripper whose connections go through
// DialContext, for an http.Client: http:// URLs need a tcp:// entry for
// their host and port; https:// URLs a tls:// entry (the host does TLS,
// verifying the server), or a tcp:// entry and the guest's own crypto/tls
// (which needs CA certificates the guest can read: a tls:// entry is
// simpler).
var Transport http.RoundTripper = &http.Transport{
	DialContext:         DialContext,
	DialTLSContext:      dialTLS,
	MaxIdleConnsPerHost: 4,
	IdleConnTimeout:     90 * time.Second,
}

// dialTLS is Transport's dialer for https:// URLs.
func dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if c.(*Conn).TLS() {
		return c, nil
	}
	host, _, _ := net.SplitHostPort(addr)
	tc := tls.Client(c, &tls.Config{ServerName: host})
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}
