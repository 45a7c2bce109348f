package host

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
)

// Request framing: what net/http forgets before a handler runs.
//
// A request's length comes from Transfer-Encoding or Content-Length. When a
// request carries both, or carries Transfer-Encoding in HTTP/1.0, two
// parsers can disagree on where it ends: a proxy in front frames it one
// way, wasgi the other, and the bytes in between are read as a second
// request the proxy never saw (request smuggling). RFC 9112 6.1 calls such
// framing faulty and requires the connection to close after it.
//
// net/http hides both cases from handlers: it deletes Transfer-Encoding
// from an HTTP/1.0 request (and frames it by Content-Length), and
// Content-Length from a request that has Transfer-Encoding. So each plain
// HTTP connection reads through a headConn, which follows the raw request
// heads as net/http reads them and notes, per head, whether its framing is
// ambiguous. ServeHTTP takes the note of its request (framingOf), answers
// 400 to an ambiguous one and closes the connection.
//
// The tracker frames requests as net/http does, which is simple here: a
// request with Transfer-Encoding ends the connection (wasgi closes after
// any chunked request), so the tracker only ever skips Content-Length
// bodies, plus the up to 4 CR or LF bytes net/http tolerates after a POST.
// Where it cannot follow (a TLS connection, whose bytes it never sees; a
// head too long or too odd to read), a request has no note and an HTTP/1.0
// one closes its connection: faulty framing is then at worst served once,
// never followed by a smuggled request. FuzzHeadTracker checks that the
// tracker and net/http agree on every stream.

// Errors for ambiguous framing (400).
var (
	errTEInHTTP10 = errors.New("host: Transfer-Encoding in an HTTP/1.0 request")
	errTEAndCL    = errors.New("host: Transfer-Encoding and Content-Length together")
)

// headListener hands out connections that track their request heads.
type headListener struct{ net.Listener }

func (l headListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &headConn{Conn: c}, nil
}

// headConn is a connection whose reads feed a headTracker.
type headConn struct {
	net.Conn
	mu sync.Mutex
	t  headTracker
}

func (c *headConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		c.t.feed(b[:n])
		c.mu.Unlock()
	}
	return n, err
}

// ReadFrom keeps sendfile for static files: net/http uses it when the
// connection has it.
func (c *headConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }

// take takes the note of the oldest head not yet taken, which must be r's.
// A note of another head means the tracker is out of step: it stops, and
// this request and the next are unseen.
func (c *headConn) take(r *http.Request) (head, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.t.next()
	if ok && !h.is(r) {
		c.t.state, c.t.notes, c.t.taken, ok = lost, nil, 0, false
	}
	return h, ok
}

type headConnKey struct{}

// withHeadConn is http.Server.ConnContext: it lets a request find its
// connection's tracker.
func withHeadConn(ctx context.Context, c net.Conn) context.Context {
	if hc, ok := c.(*headConn); ok {
		return context.WithValue(ctx, headConnKey{}, hc)
	}
	return ctx
}

// framingOf reports whether r's raw head was seen (not on TLS connections,
// nor where the tracker lost track) and, if so, its framing error. Call it
// once per request: it takes the head's note.
func framingOf(r *http.Request) (seen bool, err error) {
	c, _ := r.Context().Value(headConnKey{}).(*headConn)
	if c == nil {
		return false, nil
	}
	h, ok := c.take(r)
	if !ok {
		return false, nil
	}
	return true, h.err
}

// head is what the tracker noted about one request head.
type head struct {
	line string // the request line
	err  error  // non-nil: ambiguous framing
}

// is reports whether h is the head of r: the request line net/http parsed
// is method SP request-target SP version, as read.
func (h head) is(r *http.Request) bool {
	l := h.line
	return len(l) == len(r.Method)+len(r.RequestURI)+len(r.Proto)+2 &&
		strings.HasPrefix(l, r.Method) && l[len(r.Method)] == ' ' &&
		l[len(r.Method)+1:len(l)-len(r.Proto)-1] == r.RequestURI &&
		l[len(l)-len(r.Proto)-1] == ' ' && strings.HasSuffix(l, r.Proto)
}

// Limits of the tracker. Past them it stops (lost), and the requests it
// could not read are handled as unseen.
const (
	maxRequestLine = 8 << 10 // as Apache's LimitRequestLine
	maxFieldLine   = 256     // enough for a Content-Length line
	maxNotes       = 1024    // heads read ahead of the handlers
)

// Tracker states.
const (
	inHead = iota
	inBody
	afterPost // up to 4 CR or LF before the next head
	lost
)

// headTracker follows request heads and Content-Length bodies through the
// bytes of a connection, fed in any pieces.
type headTracker struct {
	state int
	notes []head // heads read; those from taken on are not yet taken
	taken int

	line    []byte // the current line, at most maxRequestLine bytes
	long    bool   // the current line is longer than it may be
	lines   int    // lines of the current head so far
	reqLine string
	te      bool
	cl      string // the first Content-Length, trimmed
	hasCL   bool
	badCL   bool // a Content-Length the tracker cannot read
	lastCL  bool // the previous field line was Content-Length (for folds)

	body int64 // body bytes left
	skip int   // CR or LF bytes still skippable
}

func (t *headTracker) next() (head, bool) {
	if t.taken == len(t.notes) {
		return head{}, false
	}
	h := t.notes[t.taken]
	t.notes[t.taken] = head{}
	switch t.taken++; {
	case t.taken == len(t.notes):
		t.notes, t.taken = t.notes[:0], 0
	case t.taken >= 64 && 2*t.taken >= len(t.notes): // pipelining never drains it
		n := copy(t.notes, t.notes[t.taken:])
		clear(t.notes[n:])
		t.notes, t.taken = t.notes[:n], 0
	}
	return h, true
}

func (t *headTracker) feed(b []byte) {
	for len(b) > 0 {
		switch t.state {
		case lost:
			return
		case inBody:
			n := int64(len(b))
			if n > t.body {
				n = t.body
			}
			t.body -= n
			b = b[n:]
			if t.body == 0 {
				t.state = t.afterBody()
			}
		case afterPost:
			if t.skip > 0 && (b[0] == '\r' || b[0] == '\n') {
				t.skip--
				b = b[1:]
				continue
			}
			t.state = inHead
		case inHead:
			i := bytes.IndexByte(b, '\n')
			part := b
			if i >= 0 {
				part = b[:i]
			}
			limit := maxFieldLine
			if t.lines == 0 {
				limit = maxRequestLine
			}
			long := t.long
			if room := limit - len(t.line); len(part) > room {
				part, long = part[:room], true // keep the start: a field's name
			}
			if i < 0 {
				t.line, t.long = append(t.line, part...), long
				return
			}
			b = b[i+1:]
			if len(t.line) > 0 { // the line began in an earlier piece
				part = append(t.line, part...)
			}
			t.line, t.long = t.line[:0], false
			t.endLine(part, long)
		}
	}
}

// afterBody is the state after a body: net/http discards up to 4 CR or LF
// bytes after a POST ("RFC 7230 section 3 tolerance for old buggy
// clients").
func (t *headTracker) afterBody() int {
	t.skip = 0
	if strings.HasPrefix(t.reqLine, "POST ") {
		t.skip = 4
		return afterPost
	}
	return inHead
}

// endLine handles a line of a head, without its LF: its first bytes
// when long.
func (t *headTracker) endLine(line []byte, long bool) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	t.lines++
	switch {
	case t.lines == 1: // the request line
		if long || len(line) == 0 {
			t.state = lost // net/http refuses an empty one; a long one is not noted
			return
		}
		t.reqLine = string(line)
	case len(line) == 0 && !long: // end of the head
		t.endHead()
	case line[0] == ' ' || line[0] == '\t': // a folded continuation
		if t.lines == 2 {
			t.state = lost // net/http refuses it
		}
		t.badCL = t.badCL || t.lastCL
	default:
		name, value, ok := bytes.Cut(line, []byte{':'})
		name = bytes.TrimSpace(name)
		t.lastCL = false
		switch {
		case !ok && long: // a long line: its name may be cut off, but not Transfer-Encoding's or Content-Length's
		case !ok:
			t.state = lost // net/http refuses it
		case asciiEqualFold(name, "Transfer-Encoding"):
			t.te = true
		case asciiEqualFold(name, "Content-Length"):
			t.lastCL = true
			v := textproto.TrimString(string(value))
			switch {
			case long:
				t.badCL = true
			case !t.hasCL:
				t.cl, t.hasCL = v, true
			case v != t.cl: // net/http refuses differing values
				t.badCL = true
			}
		}
	}
}

// endHead notes a complete head and frames its body as net/http does.
func (t *headTracker) endHead() {
	h := head{line: t.reqLine}
	te, hasCL, cl, badCL := t.te, t.hasCL, t.cl, t.badCL
	t.lines, t.te, t.hasCL, t.cl, t.badCL, t.lastCL = 0, false, false, "", false, false
	_, rest, _ := strings.Cut(h.line, " ")
	_, proto, _ := strings.Cut(rest, " ")
	major, minor, ok := http.ParseHTTPVersion(proto)
	switch {
	case ok && major == 1 && minor == 0 && te:
		h.err = errTEInHTTP10
	case te && hasCL:
		h.err = errTEAndCL
	}
	if len(t.notes)-t.taken >= maxNotes {
		t.state = lost
		return
	}
	t.notes = append(t.notes, h)
	if !ok || te || h.err != nil || badCL {
		// net/http refuses the head, reads a chunked body (and wasgi closes
		// the connection after it), or wasgi refuses it: nothing to follow.
		t.state = lost
		return
	}
	t.body = 0
	if hasCL {
		n, err := strconv.ParseUint(cl, 10, 63)
		if err != nil {
			t.state = lost // net/http refuses it
			return
		}
		t.body = int64(n)
	}
	t.state = inBody
	if t.body == 0 {
		t.state = t.afterBody()
	}
}

// asciiEqualFold is strings.EqualFold for ASCII, without allocating.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}
