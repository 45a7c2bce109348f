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
