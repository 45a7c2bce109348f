package sites

import (
	"strconv"
	"strings"
)

// Error is one problem in a config file. Its text is
// "file:line:col: key: message"; the line and column are left out when
// unknown and the key when the problem belongs to no key.
type Error struct {
	// File is the config file's name as given to Load or Parse.
	File string
	// Line and Col locate the offending key or table, counting from 1;
	// 0 when unknown.
	Line, Col int
	// Key is the dotted TOML key, without array indexes, e.g.
	// "site.app.mount".
	Key string
	// Msg says what is wrong.
	Msg string
}

// Error returns "file:line:col: key: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Col))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a config file, ordered by position.
type Errors []*Error

// Error joins the problems with newlines.
func (e Errors) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the problems, so that errors.As finds an [*Error].
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, err := range e {
		out[i] = err
	}
	return out
}

// Interface guards.
var (
	_ error = (*Error)(nil)
	_ error = Errors(nil)
)
