package sandbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wasgi/wasgi/abi"
)

// Outbound connections: the policy behind the net_ host functions
// (host_net.go). A guest names a destination as "host:port"; the host
// checks it against the app's list, resolves it once, checks every
// address, connects to a checked address (never to a name resolved again,
// so DNS rebinding has no window), and does TLS itself for a tls:// entry.

// Outbound is what an app's instances may connect to (AppConfig.Outbound).
type Outbound struct {
	// Entries are the destinations the app may reach; nothing else.
	Entries []OutboundEntry
	// PerInstance and PerApp cap the connections open at once in one
	// instance and over all the app's instances; 0 means no cap.
	PerInstance, PerApp int
	// ConnectTimeout bounds resolving, connecting and the TLS handshake
	// (also bounded by the running call's deadline); 0 means 5 s.
	ConnectTimeout time.Duration
	// Own names the host's own listener at an address: "admin" (always
	// refused: no guest needs it), "public" (refused unless an entry
	// names the address literally), or "" for none. nil: no listeners.
	Own func(netip.AddrPort) string
	// Lookup resolves a name; nil uses the system resolver. Tests put
	// names of their own here.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// Stats counts the app's connections; the host keeps one per app
	// across reloads. nil: not counted (and PerApp not enforced).
	Stats *OutboundStats
}

// OutboundEntry is one destination of an app's outbound list.
type OutboundEntry struct {
	// TLS: a tls:// entry; the host does the handshake.
	TLS bool
	// Host is a lower-case name without a trailing dot, or an IP
	// address (IPv6 without brackets).
	Host string
	// Port is the destination port.
	Port uint16
	// RootCAs verify a tls:// entry's server; nil: the system's roots.
	RootCAs *x509.CertPool
}

// String is the entry as written in the config.
func (e OutboundEntry) String() string {
	scheme := "tcp"
	if e.TLS {
		scheme = "tls"
	}
	return scheme + "://" + net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
}

// OutboundStats are an app's outbound counters and gauge.
type OutboundStats struct {
	Opened, Refused, Failed atomic.Int64 // connections made; refused by policy or quota; allowed but not reached
	Active                  atomic.Int64 // open now
	BytesIn, BytesOut       atomic.Int64 // read by and written by the guest
}

// maxOutboundAddr bounds a destination as the guest hands it.
const maxOutboundAddr = 260

// defaultConnectTimeout is used when Outbound.ConnectTimeout is 0.
const defaultConnectTimeout = 5 * time.Second

// metadataV6 is the IPv6 instance-metadata address of AWS (fd00:ec2::254);
// IPv4's 169.254.169.254 is link-local and refused as such.
var metadataV6 = netip.MustParseAddr("fd00:ec2::254")

// netError is a refused or failed connect: the ABI code the guest gets and
// the reason the host logs.
type netError struct {
	code   int32
	reason string
}

func (e *netError) Error() string { return e.reason }

// entry finds the entry for addr ("host:port"), or says why there is none.
func (o *Outbound) entry(addr string) (OutboundEntry, error) {
	if o == nil || len(o.Entries) == 0 {
		return OutboundEntry{}, &netError{abi.ErrDenied, "the app's outbound list is empty"}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return OutboundEntry{}, &netError{abi.ErrDenied, fmt.Sprintf("not host:port (%v)", err)}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return OutboundEntry{}, &netError{abi.ErrDenied, "bad port " + strconv.Quote(port)}
	}
	host = normalHost(host)
	for _, e := range o.Entries {
		if e.Host == host && e.Port == uint16(p) {
			return e, nil
		}
	}
	return OutboundEntry{}, &netError{abi.ErrDenied, "not in the app's outbound list"}
}

// normalHost is how entries and destinations are compared: names without
// case or a trailing dot, addresses in their canonical form.
func normalHost(h string) string {
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().String()
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// refused says why the host does not connect to ap for entry e, or "".
func (o *Outbound) refused(e OutboundEntry, ap netip.AddrPort) string {
	ip := ap.Addr().Unmap()
	own := ""
	if o.Own != nil {
		own = o.Own(netip.AddrPortFrom(ip, ap.Port()))
	}
	if own == "admin" {
		return "wasgi's admin listener, " + ap.String()
	}
	if lit, err := netip.ParseAddr(e.Host); err == nil && lit.Unmap() == ip {
		return "" // the entry names this very address
	}
	switch {
	case ip.IsLoopback():
		return "loopback address " + ip.String()
	case ip.IsUnspecified():
		return "unspecified address " + ip.String()
	case ip == netip.AddrFrom4([4]byte{169, 254, 169, 254}) || ip == metadataV6:
		return "the cloud metadata address " + ip.String()
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return "link-local address " + ip.String()
	case ip.IsMulticast():
		return "multicast address " + ip.String()
	case own != "":
		return "one of wasgi's own listeners, " + ap.String()
	}
	return ""
}

// dial connects to the entry that addr names, within deadline.
func (o *Outbound) dial(ctx context.Context, addr string, deadline time.Time) (net.Conn, OutboundEntry, error) {
	e, err := o.entry(addr)
	if err != nil {
		return nil, e, err
	}
	timeout := o.ConnectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	if d := time.Now().Add(timeout); d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	var ips []netip.Addr
	if ip, err := netip.ParseAddr(e.Host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		lookup := o.Lookup
		if lookup == nil {
			lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
				return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			}
		}
		if ips, err = lookup(ctx, e.Host); err != nil || len(ips) == 0 {
			if ctx.Err() != nil {
				return nil, e, &netError{abi.ErrTimeout, "resolving " + e.Host + " timed out"}
			}
			return nil, e, &netError{abi.ErrConnect, fmt.Sprintf("cannot resolve %s: %v", e.Host, err)}
		}
	}
	var why []string
	var d net.Dialer
	for _, ip := range ips {
		ap := netip.AddrPortFrom(ip.Unmap(), e.Port)
		if r := o.refused(e, ap); r != "" {
			why = append(why, r)
			continue
		}
		conn, err := d.DialContext(ctx, "tcp", ap.String())
		if err != nil {
			why = append(why, err.Error())
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if e.TLS {
			name := e.Host
			tc := tls.Client(conn, &tls.Config{ServerName: name, RootCAs: e.RootCAs, MinVersion: tls.VersionTLS12})
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, e, &netError{abi.ErrConnect, "TLS handshake with " + ap.String() + ": " + err.Error()}
			}
			return tc, e, nil
		}
		return conn, e, nil
	}
	reason := strings.Join(why, "; ")
	switch {
	case len(why) > 0 && allRefused(o, e, ips):
		return nil, e, &netError{abi.ErrDenied, e.Host + " resolves only to refused addresses: " + reason}
	case ctx.Err() != nil:
		return nil, e, &netError{abi.ErrTimeout, "connect timed out: " + reason}
	}
	return nil, e, &netError{abi.ErrConnect, reason}
}

// allRefused reports whether the policy refused every address of ips.
func allRefused(o *Outbound, e OutboundEntry, ips []netip.Addr) bool {
	for _, ip := range ips {
		if o.refused(e, netip.AddrPortFrom(ip.Unmap(), e.Port)) == "" {
			return false
		}
	}
	return true
}

// outboundConn is a guest's connection. A read either waits, until data,
// the end of the stream or its deadline (one wakeup, as a native read),
// or polls: it returns at once with what is there (net_read with timeout
// 0), which lets a Go guest yield to its other goroutines rather than
// block its whole instance.
type outboundConn struct {
	net.Conn
	stats  *OutboundStats
	closed atomic.Bool
}

func newOutboundConn(c net.Conn, stats *OutboundStats) *outboundConn {
	return &outboundConn{Conn: c, stats: stats}
}

// read reads into p until deadline; a zero deadline polls.
func (c *outboundConn) read(p []byte, deadline time.Time) (n int, err error) {
	if deadline.IsZero() {
		n, err = c.poll(p)
	} else {
		c.Conn.SetReadDeadline(deadline)
		n, err = c.Conn.Read(p)
	}
	if c.stats != nil {
		c.stats.BytesIn.Add(int64(n))
	}
	return n, err
}

// poll reads what is already there without waiting: one non-blocking
// read(2) on a TCP socket (a passed deadline would not even try it), and
// for TLS what is decrypted already, or a record that has fully arrived
// (a timeout leaves a tls.Conn usable).
func (c *outboundConn) poll(p []byte) (int, error) {
	tcp, ok := c.Conn.(*net.TCPConn)
	if !ok {
		c.Conn.SetReadDeadline(time.Unix(1, 0))
		return c.Conn.Read(p)
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), p)
		return true // never wait
	}); err != nil {
		return 0, err
	}
	switch {
	case rerr == syscall.EAGAIN || rerr == syscall.EINTR:
		return 0, os.ErrDeadlineExceeded
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *outboundConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.stats != nil {
		c.stats.BytesOut.Add(int64(n))
	}
	return n, err
}

// Close closes the connection once, whoever calls it first: the guest's
// net_close or the instance being closed.
func (c *outboundConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	if c.stats != nil {
		c.stats.Active.Add(-1)
	}
	return c.Conn.Close()
}

// closeWrite shuts the write side of a TCP or TLS connection.
func (c *outboundConn) closeWrite() error {
	switch conn := c.Conn.(type) {
	case *net.TCPConn:
		return conn.CloseWrite()
	case *tls.Conn:
		return conn.CloseWrite()
	}
	return errors.ErrUnsupported
}
