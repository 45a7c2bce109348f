package sandbox

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasgi/wasgi/abi"
)

// netFuncs are the outbound connections (abi/ABI.md section 4.8); the
// policy is in net.go. They work in every export: a Django app may open
// its database connection in _initialize, a one-shot run has no request.
var netFuncs = []hostFunc{
	newHostFunc(abi.FuncNetConnect, netConnect, "handle", "addr", "addr_len", "info"),
	newHostFunc(abi.FuncNetRead, netRead, "n", "handle", "buf", "buf_len", "timeout_ms"),
	newHostFunc(abi.FuncNetWrite, netWrite, "n", "handle", "buf", "buf_len", "timeout_ms"),
	newHostFunc(abi.FuncNetShutdown, netShutdown, "errno", "handle"),
	newHostFunc(abi.FuncNetClose, netClose, "errno", "handle"),
}

// resourceConn is the kind of an outbound connection in the resource table.
const resourceConn resourceKind = 0

// netState is what an instance needs to connect out: its app's policy and
// the logger of its refusals.
type netState struct {
	out *Outbound
	log zerolog.Logger // the app's host logger, sampled: a connect storm is one burst of events
}

// refusalBurst is how many refusal events per second an app's instances
// log; /metrics counts every refusal.
const refusalBurst = 20

// newNetState is the outbound policy of app cfg's instances, nil without
// one.
func newNetState(cfg AppConfig) *netState {
	if cfg.Outbound == nil {
		return nil
	}
	return &netState{out: cfg.Outbound, log: cfg.HostLogger.Sample(&zerolog.BurstSampler{Burst: refusalBurst, Period: time.Second})}
}

// callDeadline is the running call's deadline: the request's, that of
// _initialize, or a one-shot run's.
func (s *instanceState) callDeadline() time.Time {
	if s.deadline == nil {
		return time.Now().Add(defaultConnectTimeout)
	}
	return time.Unix(0, s.deadline.Load())
}

// netConnect backs net_connect(addr, addr_len, info) -> i32.
func netConnect(ctx context.Context, m api.Module, stack []uint64) {
	addr := guestBytes(m, abi.FuncNetConnect, stack[0], stack[1])
	info := guestBytes(m, abi.FuncNetConnect, stack[2], 4)
	s := stateFrom(ctx)
	if s == nil {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return
	}
	stack[0] = api.EncodeI32(s.connect(ctx, addr, info))
}

func (s *instanceState) connect(ctx context.Context, addr, info []byte) int32 {
	var out *Outbound
	if s.net != nil {
		out = s.net.out
	}
	dest := sanitize(addr)
	refuse := func(err error) int32 {
		var ne *netError
		if !errors.As(err, &ne) {
			ne = &netError{abi.ErrConnect, err.Error()}
		}
		if out != nil && out.Stats != nil {
			if ne.code == abi.ErrDenied || ne.code == abi.ErrTooManyConns {
				out.Stats.Refused.Add(1)
			} else {
				out.Stats.Failed.Add(1)
			}
		}
		if s.net != nil {
			ev := s.net.log.Warn()
			if ne.code == abi.ErrConnect || ne.code == abi.ErrTimeout {
				ev = s.net.log.Info()
			}
			ev.Str("destination", dest).Str("reason", ne.reason).Int32("errno", ne.code).Msg("outbound connection refused")
		}
		return ne.code
	}
	if len(addr) > maxOutboundAddr {
		return refuse(&netError{abi.ErrDenied, "destination longer than 260 bytes"})
	}
	if out == nil {
		return refuse(&netError{abi.ErrDenied, "the app's outbound list is empty"})
	}
	if out.PerInstance > 0 && s.count(resourceConn) >= out.PerInstance {
		return refuse(&netError{abi.ErrTooManyConns, "the instance holds outbound_limit connections"})
	}
	if out.Stats != nil {
		if n := out.Stats.Active.Add(1); out.PerApp > 0 && n > int64(out.PerApp) {
			out.Stats.Active.Add(-1)
			return refuse(&netError{abi.ErrTooManyConns, "the app holds outbound_app_limit connections"})
		}
	}
	conn, e, err := out.dial(context.WithoutCancel(ctx), string(addr), s.callDeadline())
	if err != nil {
		if out.Stats != nil {
			out.Stats.Active.Add(-1)
		}
		return refuse(err)
	}
	oc := newOutboundConn(conn, out.Stats)
	h, err := s.add(resourceConn, oc, out.PerInstance)
	if err != nil {
		oc.Close()
		return refuse(&netError{abi.ErrTooManyConns, err.Error()})
	}
	if out.Stats != nil {
		out.Stats.Opened.Add(1)
	}
	var flags uint32
	if e.TLS {
		flags |= abi.NetTLS
	}
	binary.LittleEndian.PutUint32(info, flags)
	return h
}

// conn returns the open connection behind handle h.
func (s *instanceState) conn(h int32) (*outboundConn, bool) {
	c, ok := s.get(resourceConn, h)
	if !ok {
		return nil, false
	}
	return c.(*outboundConn), true
}

// ioDeadline is when a net_read or net_write of timeoutMS gives up: at
// the call's deadline, or sooner.
func (s *instanceState) ioDeadline(timeoutMS int32) time.Time {
	d := s.callDeadline()
	switch {
	case timeoutMS == abi.NetPoll:
		return time.Time{} // only what is read ahead already
	case timeoutMS > 0:
		if t := time.Now().Add(time.Duration(timeoutMS) * time.Millisecond); t.Before(d) {
			d = t
		}
	}
	return d
}

// netErrno maps a read or write error to the ABI.
func netErrno(err error) int32 {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return abi.ErrTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return abi.ErrTimeout
	}
	return abi.ErrIO
}

// connArg is the instance and the connection that stack[0] names, or a
// nil connection with the error already in stack[0].
func connArg(ctx context.Context, stack []uint64) (*instanceState, *outboundConn) {
	s := stateFrom(ctx)
	if s == nil {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return nil, nil
	}
	c, ok := s.conn(api.DecodeI32(stack[0]))
	if !ok {
		stack[0] = api.EncodeI32(abi.ErrBadHandle)
		return s, nil
	}
	return s, c
}

// netRead backs net_read(handle, buf, len, timeout_ms) -> i32.
func netRead(ctx context.Context, m api.Module, stack []uint64) {
	buf := guestBytes(m, abi.FuncNetRead, stack[1], stack[2])
	s, c := connArg(ctx, stack)
	if c == nil {
		return
	}
	if len(buf) == 0 {
		stack[0] = 0
		return
	}
	n, err := c.read(buf, s.ioDeadline(api.DecodeI32(stack[3])))
	switch {
	case n > 0:
		stack[0] = api.EncodeI32(int32(n))
	case errors.Is(err, net.ErrClosed):
		stack[0] = api.EncodeI32(abi.ErrIO)
	case errors.Is(err, io.EOF):
		stack[0] = 0
	default:
		stack[0] = api.EncodeI32(netErrno(err))
	}
}

// netWrite backs net_write(handle, buf, len, timeout_ms) -> i32.
func netWrite(ctx context.Context, m api.Module, stack []uint64) {
	buf := guestBytes(m, abi.FuncNetWrite, stack[1], stack[2])
	s, c := connArg(ctx, stack)
	if c == nil {
		return
	}
	d := s.ioDeadline(api.DecodeI32(stack[3]))
	if d.IsZero() { // NetPoll: what the socket buffer takes at once
		d = time.Now().Add(time.Millisecond)
	}
	c.SetWriteDeadline(d)
	n, err := c.Write(buf)
	switch {
	case err == nil || n > 0:
		stack[0] = api.EncodeI32(int32(n))
	default:
		stack[0] = api.EncodeI32(netErrno(err))
	}
}

// netShutdown backs net_shutdown(handle) -> i32.
func netShutdown(ctx context.Context, _ api.Module, stack []uint64) {
	_, c := connArg(ctx, stack)
	switch {
	case c == nil:
	case c.closeWrite() != nil:
		stack[0] = api.EncodeI32(abi.ErrIO)
	default:
		stack[0] = 0
	}
}

// netClose backs net_close(handle) -> i32.
func netClose(ctx context.Context, _ api.Module, stack []uint64) {
	s := stateFrom(ctx)
	if s == nil {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return
	}
	c, ok := s.remove(resourceConn, api.DecodeI32(stack[0]))
	if !ok {
		stack[0] = api.EncodeI32(abi.ErrBadHandle)
		return
	}
	c.Close()
	stack[0] = 0
}
