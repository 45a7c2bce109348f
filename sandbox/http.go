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
	// The fields the host set before (X-Request-Id, ...): few, and each is
	// replaced at the first guest field of its name.
	var set [8]string
	host := set[:0]
	for k := range h {
		host = append(host, k)
	}
	vals := make([]string, len(fields)) // every value, in one array
	for i, f := range fields {
		k := textproto.CanonicalMIMEHeaderKey(f.Name)
		if hopByHop(k) {
			continue
		}
		for j, hk := range host {
			if hk == k {
				delete(h, k)
				host[j] = host[len(host)-1]
				host = host[:len(host)-1]
				break
			}
		}
		vals[i] = f.Value
		if old, ok := h[k]; ok {
			h[k] = append(old, f.Value)
		} else {
			h[k] = vals[i : i+1 : i+1]
		}
	}
	r.w.WriteHeader(status)
	return nil
}

func (r httpResponse) Write(p []byte) (int, error) { return r.w.Write(p) }

func (r httpResponse) Flush() error { return http.NewResponseController(r.w).Flush() }

// hopByHop reports the headers that belong to the connection, which the
// host owns (k canonical).
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
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
