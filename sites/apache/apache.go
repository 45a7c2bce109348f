// Package apache turns an Apache httpd configuration with mod_wsgi into a
// wasgi configuration: the TOML file that package sites loads, and a report
// that says, for every directive, with its file and line, whether it was
// translated, approximated (and how) or ignored (and why).
//
// [ParseFiles] and [ParseFS] read the configuration as Apache does:
// directives, <Section> containers, quoted arguments, a backslash at the
// end of a line continuing it, comments, Define and ${NAME}, and Include
// and IncludeOptional with wildcards, a relative path being taken from the
// folder of the file that names it. A syntax error (an unclosed section or
// quote, a closing tag that matches nothing, an Include loop) is an
// [*Error] with the file and line.
//
// [Translate] maps what wasgi can do: <VirtualHost> with ServerName and
// ServerAlias to [[site]] and its hosts, Listen to server.listen,
// WSGIScriptAlias to a Python app (runtime = "python") whose wsgi module is
// derived from the script's path and the python path, WSGIDaemonProcess to
// [groups.NAME], Alias to [[site.alias]], and <Directory>, <Files> and
// <Location> with their Require, Order/Allow/Deny, Options and Basic
// authentication directives to [[site.directory]] and [[site.location]].
// Access rules that cannot be expressed are made stricter, never looser:
// what cannot be translated exactly is denied, and the report says so.
//
// [Import] does both, for the command `wasgi import apache`.
package apache

import (
	"fmt"
	"io"
	"strings"
)

// Status says what became of a directive.
type Status int

// The statuses of a report entry.
const (
	// Translated: wasgi does the same thing.
	Translated Status = iota + 1
	// Approximated: wasgi does something close; the entry says what
	// differs.
	Approximated
	// Ignored: nothing in the TOML comes from it; the entry says why.
	Ignored
)

// String returns "translated", "approximated" or "ignored".
func (s Status) String() string {
	switch s {
	case Translated:
		return "translated"
	case Approximated:
		return "approximated"
	case Ignored:
		return "ignored"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Entry is one line of the report: what became of a directive, or of one
// option of it.
type Entry struct {
	// File and Line locate the directive.
	File string
	Line int
	// Status says whether it was translated, approximated or ignored.
	Status Status
	// Directive is the directive, or the part of it the entry is about,
	// as written: "WSGIDaemonProcess example.com threads=15".
	Directive string
	// Message says what it became, or why not.
	Message string

	seq int
}

// String returns "file:line: status: directive: message".
func (e Entry) String() string {
	return fmt.Sprintf("%s:%d: %s: %s: %s", e.File, e.Line, e.Status, e.Directive, e.Message)
}

// Result is a translated configuration.
type Result struct {
	// TOML is the wasgi configuration, with comments naming the Apache
	// directive behind each table.
	TOML []byte
	// Report has an entry for every directive read, in the order of the
	// files, and more than one for a directive with several parts.
	Report []Entry
}

// Count returns how many entries of the report have status s.
func (r *Result) Count(s Status) int {
	n := 0
	for _, e := range r.Report {
		if e.Status == s {
			n++
		}
	}
	return n
}

// WriteReport writes the report, one entry a line, and a last line with
// the count of each status.
func (r *Result) WriteReport(w io.Writer) error {
	var b strings.Builder
	for _, e := range r.Report {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%d translated, %d approximated, %d ignored\n", r.Count(Translated), r.Count(Approximated), r.Count(Ignored))
	_, err := io.WriteString(w, b.String())
	return err
}

// Import reads the Apache configuration files at names (see [ParseFiles])
// and translates them (see [Translate]).
func Import(names ...string) (*Result, error) {
	conf, err := ParseFiles(names...)
	if err != nil {
		return nil, err
	}
	return Translate(conf), nil
}
