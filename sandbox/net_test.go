package sandbox

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasgi/wasgi/abi"
)

// fakeLookup answers every name with ips and counts its calls.
func fakeLookup(calls *int, ips ...string) func(context.Context, string) ([]netip.Addr, error) {
	return func(context.Context, string) ([]netip.Addr, error) {
		*calls++
		var out []netip.Addr
		for _, s := range ips {
			out = append(out, netip.MustParseAddr(s))
		}
		return out, nil
	}
}

func wantCode(t *testing.T, err error, code int32, reason string) {
	t.Helper()
	var ne *netError
	if !errors.As(err, &ne) || ne.code != code || !strings.Contains(ne.reason, reason) {
		t.Fatalf("err = %v, want code %d with %q", err, code, reason)
	}
}

// TestOutboundPolicy: what dial refuses before any packet leaves, and that
// a name is resolved once and the connection goes to a checked address.
func TestOutboundPolicy(t *testing.T) {
	deadline := time.Now().Add(5 * time.Second)
	calls := 0
	for _, tc := range []struct {
		name, ip, reason string
	}{
		{"metadata", "169.254.169.254", "metadata address"},
		{"metadata v6", "fd00:ec2::254", "metadata address"},
		{"link-local", "169.254.1.1", "link-local"},
		{"loopback", "127.0.0.1", "loopback"},
		{"mapped loopback", "::ffff:127.0.0.1", "loopback"},
		{"unspecified", "0.0.0.0", "unspecified"},
		{"multicast", "239.1.2.3", "multicast"},
	} {
		o := &Outbound{Entries: []OutboundEntry{{Host: "api.example", Port: 80}}, Lookup: fakeLookup(&calls, tc.ip)}
		_, _, err := o.dial(context.Background(), "API.Example.:80", deadline)
		wantCode(t, err, abi.ErrDenied, tc.reason)
	}
	o := &Outbound{Entries: []OutboundEntry{{Host: "127.0.0.1", Port: 9}}, Own: func(netip.AddrPort) string { return "admin" }}
	_, _, err := o.dial(context.Background(), "127.0.0.1:9", deadline)
	wantCode(t, err, abi.ErrDenied, "admin listener")
	_, _, err = o.dial(context.Background(), "127.0.0.1:10", deadline)
	wantCode(t, err, abi.ErrDenied, "not in the app's outbound list")

	// A name resolving to a refused address and to one of this machine's
	// own, reachable ones: one lookup, and the connection goes to the
	// checked address, not to a second answer of the resolver.
	var public netip.Addr
	for _, a := range localAddrsForTest() {
		if !a.IsLoopback() && a.Is4() && !a.IsLinkLocalUnicast() {
			public = a
			break
		}
	}
	if !public.IsValid() {
		t.Skip("no non-loopback IPv4 address on this machine")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(public.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			got <- c.LocalAddr().String()
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	calls = 0
	o = &Outbound{Entries: []OutboundEntry{{Host: "db.example", Port: uint16(port)}}, Lookup: fakeLookup(&calls, "169.254.169.254", public.String())}
	c, _, err := o.dial(context.Background(), "db.example:"+strconv.Itoa(port), deadline)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if calls != 1 || <-got != ln.Addr().String() {
		t.Fatalf("%d lookups, want 1, and a connection to %s", calls, ln.Addr())
	}
}

func localAddrsForTest() []netip.Addr {
	as, _ := net.InterfaceAddrs()
	var out []netip.Addr
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out
}
