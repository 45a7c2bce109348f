package host

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/wasgi/wasgi/abi"
)

// request is what the environ is built from, besides the *http.Request.
type request struct {
	id         string
	scriptName string
	pathInfo   string
	serverPort string
	remoteUser string // set by auth
	authType   string
	passAuth   bool // pass the Authorization header (pass_authorization)
}

// appendEnviron encodes the WSGI/CGI environ of r for app a into dst.
// Request keys come after the app's env, which cannot name them (config
// validation refuses reserved keys).
func appendEnviron(dst []byte, r *http.Request, q *request, a *app) []byte {
	dst = append(dst, a.env...)
	add := func(k, v string) {
		dst, _ = abi.AppendEnviron(dst, k, v)
	}
	add(abi.KeyRequestMethod, r.Method)
	add(abi.KeyScriptName, q.scriptName)
	add(abi.KeyPathInfo, q.pathInfo)
	add(abi.KeyQueryString, r.URL.RawQuery)
	add(abi.KeyRequestURI, r.RequestURI)
	add(abi.KeyServerName, hostName(r.Host))
	add(abi.KeyServerPort, q.serverPort)
	add(abi.KeyServerProtocol, r.Proto)
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		add(abi.KeyRemoteAddr, host)
		add(abi.KeyRemotePort, port)
	} else {
		add(abi.KeyRemoteAddr, r.RemoteAddr)
	}
	if q.remoteUser != "" {
		add(abi.KeyRemoteUser, q.remoteUser)
		add(abi.KeyAuthType, q.authType)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		add(abi.KeyContentType, ct)
	}
	if r.ContentLength > 0 || r.Header.Get("Content-Length") != "" {
		add(abi.KeyContentLength, strconv.FormatInt(max(r.ContentLength, 0), 10))
	}
	if r.TLS != nil {
		add(abi.KeyURLScheme, "https")
		add(abi.KeyHTTPS, "on")
	} else {
		add(abi.KeyURLScheme, "http")
	}
	add(abi.KeyRequestID, q.id)
	add(abi.KeySite, a.site)
	add(abi.KeyApp, a.name)
	add(abi.KeyABIVersion, abi.Version)
	add("HTTP_HOST", r.Host)
	for name, values := range r.Header {
		if !passHeader(name, q.passAuth) {
			continue
		}
		sep := ", "
		if name == "Cookie" {
			sep = "; "
		}
		dst = appendHeaderKey(dst, name)
		for i, v := range values {
			if i > 0 {
				dst = append(dst, sep...)
			}
			dst = appendNoNUL(dst, v)
		}
		dst = append(dst, 0)
	}
	return dst
}

// passHeader tells which request headers become HTTP_* keys.
func passHeader(name string, passAuth bool) bool {
	switch name {
	case "Content-Type", "Content-Length", "Host":
		return false // CONTENT_TYPE, CONTENT_LENGTH, HTTP_HOST
	case "Proxy":
		return false // httpoxy: HTTP_PROXY would be read as a proxy setting
	case "Authorization":
		return passAuth
	case "Proxy-Authorization":
		return false // credentials for a proxy, never for an app (Apache drops it too)
	}
	// "X_Forwarded_For" would collide with "X-Forwarded-For".
	return strings.IndexByte(name, '_') < 0 && name != ""
}

// appendHeaderKey appends "HTTP_NAME=" for a header name.
func appendHeaderKey(dst []byte, name string) []byte {
	dst = append(dst, abi.HeaderPrefix...)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c == '-':
			c = '_'
		case c == '=' || c == 0:
			c = '_' // never in a valid header name; keep the entry parseable
		}
		dst = append(dst, c)
	}
	return append(dst, '=')
}

func appendNoNUL(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] != 0 {
			dst = append(dst, v[i])
		}
	}
	return dst
}
