package sandbox

import (
	"errors"
	"io"
	"net/http"
	"net/textproto"
)

// The net/http adapter: the only file of the ABI core that knows net/http.
// A request from elsewhere (a one-shot run, a test) implements [Response]
// itself.

// HTTPResponse adapts w to [Response]. Hop-by-hop fields (Connection,
// Transfer-Encoding, ...) belong to the connection, which the host owns:
// they are dropped. A field the guest sends replaces one the host set
// before (such as X-Request-Id) rather than doubling it, but never the
// host's own Connection: close.
func HTTPResponse(w http.ResponseWriter) Response { return httpResponse{w} }

type httpResponse struct{ w http.ResponseWriter }

func (r httpResponse) Start(status int, fields []HeaderField) error {
	h := r.w.Header()
	for _, f := range fields {
		if k := textproto.CanonicalMIMEHeaderKey(f.Name); !hopByHop[k] {
			h.Del(k)
		}
	}
	for _, f := range fields {
		if k := textproto.CanonicalMIMEHeaderKey(f.Name); !hopByHop[k] {
			h[k] = append(h[k], f.Value)
		}
	}
	r.w.WriteHeader(status)
	return nil
}

func (r httpResponse) Write(p []byte) (int, error) { return r.w.Write(p) }

func (r httpResponse) Flush() error { return http.NewResponseController(r.w).Flush() }

// hopByHop headers belong to the connection, which the host owns.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// HTTPBody is a request body for a [Call]: at most limit bytes of r.Body
// (http.MaxBytesReader, which also tells the server to close the
// connection once the limit is hit), with the overflow reported as
// [ErrBodyTooLarge].
func HTTPBody(w http.ResponseWriter, r *http.Request, limit int64) io.Reader {
	return httpBody{http.MaxBytesReader(w, r.Body, limit)}
}

type httpBody struct{ r io.Reader }

func (b httpBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = ErrBodyTooLarge
		}
	}
	return n, err
}
