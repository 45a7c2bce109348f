package abi

import (
	"bytes"
	"errors"
	"strings"
)

// ErrEnviron reports a malformed encoded environ.
var ErrEnviron = errors.New("abi: malformed environ")

// AppendEnviron appends one `KEY=VALUE\x00` entry to dst. It reports false
// and leaves dst unchanged when the key is empty or holds '=' or NUL, or the
// value holds NUL: such an entry cannot be encoded.
func AppendEnviron(dst []byte, key, value string) ([]byte, bool) {
	if key == "" || strings.IndexByte(key, '=') >= 0 || strings.IndexByte(key, 0) >= 0 ||
		strings.IndexByte(value, 0) >= 0 {
		return dst, false
	}
	dst = append(dst, key...)
	dst = append(dst, '=')
	dst = append(dst, value...)
	return append(dst, 0), true
}

// ParseEnviron decodes an encoded environ, calling fn for each entry in
// order until fn returns false. The slices alias b. It returns [ErrEnviron]
// when an entry lacks '=' or the final NUL, or has an empty key.
func ParseEnviron(b []byte, fn func(key, value []byte) bool) error {
	for len(b) > 0 {
		end := bytes.IndexByte(b, 0)
		if end < 0 {
			return ErrEnviron
		}
		entry := b[:end]
		b = b[end+1:]
		eq := bytes.IndexByte(entry, '=')
		if eq <= 0 {
			return ErrEnviron
		}
		if !fn(entry[:eq], entry[eq+1:]) {
			return nil
		}
	}
	return nil
}

// reservedKeys are the CGI/WSGI request variables the host sets itself
// (RFC 3875 and PEP 3333), beyond the HTTP_, wsgi. and WASGI_ families.
var reservedKeys = map[string]bool{
	KeyRequestMethod: true, KeyScriptName: true, KeyPathInfo: true, KeyQueryString: true,
	KeyRequestURI: true, KeyServerName: true, KeyServerPort: true, KeyServerProtocol: true,
	KeyRemoteAddr: true, KeyRemotePort: true, KeyRemoteUser: true, KeyAuthType: true,
	KeyContentType: true, KeyContentLength: true, KeyHTTPS: true,
	"GATEWAY_INTERFACE": true, "SERVER_SOFTWARE": true, "PATH_TRANSLATED": true,
	"REMOTE_HOST": true, "REMOTE_IDENT": true,
}

// Reserved reports whether k, in any case, names a variable of the request
// environ that the host sets: an app's own env (config env, SetEnv) must
// not name one, or it could pose as the request (a forged REMOTE_USER).
func Reserved(k string) bool {
	u := strings.ToUpper(k)
	return reservedKeys[u] || strings.HasPrefix(u, "HTTP_") || strings.HasPrefix(u, "WSGI.") || strings.HasPrefix(u, "WASGI_")
}
