// Package abitest is wasgi's conformance kit: one behaviour, implemented
// by a guest in each language and door (the Go SDK, the raw ABI from C,
// CGI from Go and C), and Run, which checks a live host serving such a
// guest over real HTTP. Every implementation must answer the same request
// set identically.
//
// The behaviour, below the app's mount:
//
//	GET|HEAD /info[/...]  200 text/plain "method=M path=PATH_INFO query=QUERY_STRING user=REMOTE_USER\n"
//	POST /echo            200 application/octet-stream, the request body
//	GET /headers          200 text/plain "headers=N\n", N = request headers named X-Test-*
//	GET /redirect         302 Location: SCRIPT_NAME + "/info"
//	GET /stream           200 text/plain "chunk 1\n" "chunk 2\n" "chunk 3\n", flushed one by one
//	anything else         404 text/plain "not found\n"
//
// A reactor guest also answers the auth exports for one user, "conform"
// with password "secret", in groups "staff" and "users" (see
// [CheckPassword], [GroupsForUser]); Run checks them through a location
// that the host protects with the guest as auth provider.
package abitest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The one user of the conformance guests.
const (
	User     = "conform"
	Password = "secret"
)

// CheckPassword is the conformance guests' password check.
func CheckPassword(user, password string) (ok, known bool) {
	if user != User {
		return false, false
	}
	return password == Password, true
}

// GroupsForUser is the conformance guests' group lookup.
func GroupsForUser(user string) []string {
	if user == User {
		return []string{"staff", "users"}
	}
	return nil
}

// Handler is the conformance behaviour as an http.Handler, for Go guests.
// env returns an environ value of a request (guest.Environ(r)[key] under
// the SDK, os.Getenv under CGI).
func Handler(env func(r *http.Request, key string) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		script, path := env(r, "SCRIPT_NAME"), env(r, "PATH_INFO")
		switch {
		case path == "/info" || strings.HasPrefix(path, "/info/"):
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "method=%s path=%s query=%s user=%s\n", r.Method, path, r.URL.RawQuery, env(r, "REMOTE_USER"))
		case path == "/echo":
			w.Header().Set("Content-Type", "application/octet-stream")
			io.Copy(w, r.Body)
		case path == "/headers":
			n := 0
			for k := range r.Header {
				if strings.HasPrefix(k, "X-Test-") {
					n++
				}
			}
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "headers=%d\n", n)
		case path == "/redirect":
			w.Header().Set("Location", script+"/info")
			w.WriteHeader(http.StatusFound)
		case path == "/stream":
			w.Header().Set("Content-Type", "text/plain")
			for i := 1; i <= 3; i++ {
				fmt.Fprintf(w, "chunk %d\n", i)
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
			}
		default:
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "not found\n")
		}
	})
}

// Target is a live host serving a conformance guest.
type Target struct {
	URL   string // "http://127.0.0.1:8080"
	Host  string // Host header of the site
	Mount string // the app's mount: "" or "/conform"
	// Protected, when set, is a URL prefix below the mount, under /info/,
	// that the host protects with `require = ["group staff"]` and this app
	// as auth provider (reactors only: a CGI program has no auth exports).
	Protected string
}

// Run checks the conformance request set against t.
func Run(t *testing.T, tg Target) {
	t.Helper()
	big := make([]byte, 1<<20)
	rand.Read(big)
	manyHeaders := http.Header{}
	for i := range 50 {
		manyHeaders.Set(fmt.Sprintf("X-Test-%d", i), "v")
	}
	cases := []struct {
		name, method, path string
		body               []byte
		header             http.Header
		status             int
		want               string
		wantHeader         map[string]string
	}{
		{"get with query", "GET", "/info?x=1&y=caf%C3%A9", nil, nil, 200, "method=GET path=/info query=x=1&y=caf%C3%A9 user=\n", map[string]string{"Content-Type": "text/plain"}},
		{"non-ASCII path", "GET", "/info/caf%C3%A9/%E6%97%A5%E6%9C%AC", nil, nil, 200, "method=GET path=/info/café/日本 query= user=\n", nil},
		{"head", "HEAD", "/info", nil, nil, 200, "", nil},
		{"post 1 MiB", "POST", "/echo", big, nil, 200, string(big), nil},
		{"post empty", "POST", "/echo", []byte{}, nil, 200, "", nil},
		{"many headers", "GET", "/headers", nil, manyHeaders, 200, "headers=50\n", nil},
		{"redirect", "GET", "/redirect", nil, nil, 302, "", map[string]string{"Location": tg.Mount + "/info"}},
		{"not found", "GET", "/nope", nil, nil, 404, "not found\n", nil},
		{"streamed", "GET", "/stream", nil, nil, 200, "chunk 1\nchunk 2\nchunk 3\n", nil},
	}
	if tg.Protected != "" {
		auth := func(user, pass string) http.Header {
			h := http.Header{}
			h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
			return h
		}
		p := tg.Protected
		cases = append(cases, []struct {
			name, method, path string
			body               []byte
			header             http.Header
			status             int
			want               string
			wantHeader         map[string]string
		}{
			{"auth: no credentials", "GET", p, nil, nil, 401, "", nil},
			{"auth: wrong password", "GET", p, nil, auth(User, "wrong"), 401, "", nil},
			{"auth: unknown user", "GET", p, nil, auth("nobody", Password), 401, "", nil},
			{"auth: group member", "GET", p, nil, auth(User, Password), 200, "method=GET path=" + p + " query= user=conform\n", nil},
		}...)
	}
	client := &http.Client{
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = bytes.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, tg.URL+tg.Mount+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tg.Host
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%.200q)", resp.StatusCode, tc.status, got)
			}
			if tc.status == 401 {
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
					t.Fatalf("401 without a Basic challenge: %v", resp.Header)
				}
				return
			}
			if string(got) != tc.want {
				t.Fatalf("body %.200q (%d bytes), want %.200q (%d bytes)", got, len(got), tc.want, len(tc.want))
			}
			for k, v := range tc.wantHeader {
				if resp.Header.Get(k) != v {
					t.Fatalf("%s = %q, want %q", k, resp.Header.Get(k), v)
				}
			}
		})
	}
}
