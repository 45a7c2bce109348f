package host

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// FuzzHeadTracker reads a connection's bytes as net/http's server does
// (http.ReadRequest, the body, the CR/LF it skips after a POST) and checks
// that the tracker, fed the same bytes in arbitrary pieces, noted every
// request net/http read, in order and with its request line, until the
// tracker stopped (lost). A tracker out of step would give one request's
// note to another.
func FuzzHeadTracker(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\r\n\r\nGET / HTTP/1.0\r\n\r\n",
		"POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2c\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\nHost: a\nContent-Length: 3\nX-A: b\n  c\n\nabcGET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nxyGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\nContent-Length: 59\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, stream []byte, step uint8) {
		var whole, pieces headTracker
		whole.feed(stream)
		n := 1 + int(step)%32
		for b := stream; len(b) > 0; {
			k := min(n, len(b))
			pieces.feed(b[:k])
			b = b[k:]
		}
		if len(whole.notes) != len(pieces.notes) || whole.state != pieces.state {
			t.Fatalf("fed whole: %d notes, state %d; in pieces of %d: %d notes, state %d",
				len(whole.notes), whole.state, n, len(pieces.notes), pieces.state)
		}
		for i := range whole.notes {
			if whole.notes[i] != pieces.notes[i] {
				t.Fatalf("note %d: %+v whole, %+v in pieces", i, whole.notes[i], pieces.notes[i])
			}
		}

		br := bufio.NewReader(bytes.NewReader(stream))
		lastMethod := ""
		for i := 0; ; i++ {
			if lastMethod == "POST" {
				peek, _ := br.Peek(4)
				skip := 0
				for skip < len(peek) && (peek[skip] == '\r' || peek[skip] == '\n') {
					skip++
				}
				br.Discard(skip)
			}
			req, err := http.ReadRequest(br)
			if err != nil || req.ProtoMajor != 1 {
				return // net/http answers an error and closes
			}
			h, ok := whole.next()
			if !ok {
				if whole.state != lost {
					t.Fatalf("request %d (%s %s %s) read by net/http, not by the tracker", i, req.Method, req.RequestURI, req.Proto)
				}
				return
			}
			if !h.is(req) {
				t.Fatalf("request %d: net/http read %q %q %q, the tracker %q", i, req.Method, req.RequestURI, req.Proto, h.line)
			}
			if h.err != nil || len(req.TransferEncoding) > 0 {
				return // wasgi closes the connection after it
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
			lastMethod = req.Method
		}
	})
}
