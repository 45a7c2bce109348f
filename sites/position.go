package sites

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// The TOML library reports positions for syntax errors only: its per-key
// positions are private and keyed without array indexes, so the 3rd app of
// the 2nd site cannot be told from the 1st app of the 1st. The index below
// is a small scanner over the TOML text that records where every table
// header, key and array element starts, under a concrete path that includes
// array indexes. It runs only over text the library has accepted or is about
// to judge, so it aims to be right for well-formed TOML and merely harmless
// (never panicking, always progressing) for anything else.

// path is a concrete location in a TOML document: key segments separated by
// pathSep, with array indexes as their own segments starting with pathIdx.
// The empty path is the root table.
type path string

const (
	pathSep = "\x00"
	pathIdx = "\x01"
)

// root is the path of the document's root table.
const root path = ""

// key returns the path of the key name inside p. Every segment starts
// with pathSep, so that even the empty key "" differs from the root.
func (p path) key(name string) path {
	return p + pathSep + path(name)
}

// at returns the path of element i of the array at p.
func (p path) at(i int) path {
	return p.key(pathIdx + strconv.Itoa(i))
}

// parent returns the path that contains p; false for the root.
func (p path) parent() (path, bool) {
	if p == "" {
		return "", false
	}
	return p[:strings.LastIndex(string(p), pathSep)], true
}

// dotted returns p as a TOML key without array indexes, quoted as the TOML
// library quotes keys: the 2nd app's mount of any site is "site.app.mount".
func (p path) dotted() string {
	if p == "" {
		return ""
	}
	var k toml.Key
	for _, s := range strings.Split(string(p[len(pathSep):]), pathSep) {
		if !strings.HasPrefix(s, pathIdx) {
			k = append(k, s)
		}
	}
	return k.String()
}

// position is a 1-based line and column (in characters); zero when unknown.
type position struct{ Line, Col int }

// index maps concrete paths to where they start in the text.
type index struct {
	// src is the text scanned, without byte order mark, as the TOML
	// library sees it.
	src string
	at  map[path]position
	// fold holds the same positions under lower-cased paths: the decoder
	// matches keys case-insensitively, so "[Server]" fills the server.
	fold map[path]position
	// occ lists, per dotted key, the concrete paths of its occurrences in
	// document order. Its entries line up with toml.MetaData.Keys: table
	// headers and keys, including those inside inline tables, but not
	// array elements.
	occ map[string][]path
}

// lookup returns the position of p, or of the nearest enclosing table,
// key or array element that was found in the text.
func (x *index) lookup(p path) position {
	for {
		if pos, ok := x.at[p]; ok {
			return pos
		}
		if pos, ok := x.fold[path(strings.ToLower(string(p)))]; ok {
			return pos
		}
		q, ok := p.parent()
		if !ok {
			return position{}
		}
		p = q
	}
}

// occurrence returns the position of the n-th occurrence (from 0) of a
// dotted key as the TOML library lists it, falling back to the key's last
// occurrence and then to its enclosing keys.
func (x *index) occurrence(k toml.Key, n int) position {
	for ; len(k) > 0; k = k[:len(k)-1] {
		ps := x.occ[k.String()]
		if len(ps) == 0 {
			continue
		}
		if n >= len(ps) {
			n = len(ps) - 1
		}
		return x.at[ps[n]]
	}
	return position{}
}

// buildIndex scans src and returns its index.
func buildIndex(src string) *index {
	s := &scanner{
		src: src,
		x:   &index{at: map[path]position{}, fold: map[path]position{}, occ: map[string][]path{}},
		aot: map[path]int{},
	}
	// The library skips a byte order mark; so do we, keeping columns of
	// the first line as the library counts them.
	for _, bom := range []string{"\xef\xbb\xbf", "\xff\xfe", "\xfe\xff"} {
		if strings.HasPrefix(src, bom) {
			s.src = src[len(bom):]
			break
		}
	}
	s.x.src = s.src
	s.line, s.col = 1, 1
	s.document()
	return s.x
}

// scanner walks TOML text just far enough to find keys.
type scanner struct {
	src       string
	i         int // byte offset
	line, col int // 1-based; col counts characters
	x         *index
	aot       map[path]int // arrays of tables by concrete path: tables so far
}

func (s *scanner) eof() bool { return s.i >= len(s.src) }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.i]
}

func (s *scanner) next() {
	if s.eof() {
		return
	}
	switch c := s.src[s.i]; {
	case c == '\n':
		s.line++
		s.col = 1
	case c&0xc0 != 0x80: // not a UTF-8 continuation byte
		s.col++
	}
	s.i++
}

func (s *scanner) skip(n int) {
	for ; n > 0; n-- {
		s.next()
	}
}

func (s *scanner) pos() position {
	return position{Line: s.line, Col: s.col}
}

// record notes a table header or key: it has a position and is one of the
// keys the TOML library lists.
func (s *scanner) record(p path, pos position) {
	s.mark(p, pos)
	k := p.dotted()
	s.x.occ[k] = append(s.x.occ[k], p)
}

// mark notes the position of a key, table or array element.
func (s *scanner) mark(p path, pos position) {
	s.x.at[p] = pos
	if f := path(strings.ToLower(string(p))); f != p {
		if _, seen := s.x.fold[f]; !seen {
			s.x.fold[f] = pos
		}
	}
}

// spaces skips blanks within a line.
func (s *scanner) spaces() {
	for c := s.peek(); c == ' ' || c == '\t'; c = s.peek() {
		s.next()
	}
}

// blanks skips blanks, newlines and comments.
func (s *scanner) blanks() {
	for !s.eof() {
		switch s.peek() {
		case ' ', '\t', '\r', '\n':
			s.next()
		case '#':
			s.restOfLine()
		default:
			return
		}
	}
}

// restOfLine skips to the end of the line, leaving the newline.
func (s *scanner) restOfLine() {
	for !s.eof() && s.peek() != '\n' {
		s.next()
	}
}

func (s *scanner) document() {
	table := root
	for {
		s.blanks()
		if s.eof() {
			return
		}
		start := s.i
		if s.peek() == '[' {
			table = s.header()
		} else {
			s.keyval(table)
		}
		if s.i == start {
			s.next()
		}
		s.restOfLine()
	}
}

// header reads "[a.b]" or "[[a.b]]" and returns the table's concrete path.
func (s *scanner) header() path {
	pos := s.pos()
	s.next()
	aot := s.peek() == '['
	if aot {
		s.next()
	}
	segs := s.key()
	if len(segs) == 0 {
		return ""
	}
	var p path
	for i, seg := range segs {
		p = p.key(seg)
		if n, ok := s.aot[p]; aot && i == len(segs)-1 {
			s.aot[p] = n + 1
			p = p.at(n)
		} else if ok && n > 0 {
			p = p.at(n - 1)
		}
	}
	s.record(p, pos)
	return p
}

// keyval reads "key = value" inside the table at p.
func (s *scanner) keyval(table path) {
	pos := s.pos()
	segs := s.key()
	if len(segs) == 0 {
		return
	}
	s.spaces()
	if s.peek() != '=' {
		return
	}
	s.next()
	s.spaces()
	p := table
	for _, seg := range segs {
		p = p.key(seg)
	}
	s.record(p, pos)
	s.value(p)
}

// key reads a dotted key; nil when there is none.
func (s *scanner) key() []string {
	var segs []string
	for {
		s.spaces()
		seg, ok := s.keyPart()
		if !ok {
			return nil
		}
		segs = append(segs, seg)
		s.spaces()
		if s.peek() != '.' {
			return segs
		}
		s.next()
	}
}

func (s *scanner) keyPart() (string, bool) {
	switch c := s.peek(); {
	case c == '"':
		start := s.i
		s.basicString()
		raw := s.src[start:s.i]
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			return "", false
		}
		return unescape(raw[1 : len(raw)-1]), true
	case c == '\'':
		start := s.i
		s.literalString()
		raw := s.src[start:s.i]
		if len(raw) < 2 || raw[len(raw)-1] != '\'' {
			return "", false
		}
		return raw[1 : len(raw)-1], true
	case isBare(c):
		start := s.i
		for isBare(s.peek()) {
			s.next()
		}
		return s.src[start:s.i], true
	}
	return "", false
}

func isBare(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// value skips one value, recording keys of inline tables and the elements
// of arrays below p. It always consumes at least one byte unless at EOF.
func (s *scanner) value(p path) {
	switch s.peek() {
	case '"':
		if strings.HasPrefix(s.src[s.i:], `"""`) {
			s.multiline(`"""`, true)
		} else {
			s.basicString()
		}
	case '\'':
		if strings.HasPrefix(s.src[s.i:], `'''`) {
			s.multiline(`'''`, false)
		} else {
			s.literalString()
		}
	case '[':
		s.array(p)
	case '{':
		s.inlineTable(p)
	default:
		start := s.i
		for !s.eof() && !strings.ContainsRune(" \t\r\n,]}#", rune(s.peek())) {
			s.next()
		}
		if s.i == start {
			s.next()
		}
	}
}

func (s *scanner) basicString() {
	s.next()
	for !s.eof() {
		switch s.peek() {
		case '\n':
			return
		case '\\':
			s.skip(2)
		case '"':
			s.next()
			return
		default:
			s.next()
		}
	}
}

func (s *scanner) literalString() {
	s.next()
	for !s.eof() {
		switch s.peek() {
		case '\n':
			return
		case '\'':
			s.next()
			return
		default:
			s.next()
		}
	}
}

func (s *scanner) multiline(delim string, escapes bool) {
	s.skip(3)
	for !s.eof() {
		if escapes && s.peek() == '\\' {
			s.skip(2)
			continue
		}
		if strings.HasPrefix(s.src[s.i:], delim) {
			s.skip(3)
			// Up to two more quotes belong to the content.
			for n := 0; n < 2 && s.peek() == delim[0]; n++ {
				s.next()
			}
			return
		}
		s.next()
	}
}

func (s *scanner) array(p path) {
	s.next()
	for n := 0; ; {
		s.blanks()
		if s.eof() {
			return
		}
		switch s.peek() {
		case ']':
			s.next()
			return
		case ',':
			s.next()
			continue
		}
		q := p.at(n)
		s.mark(q, s.pos())
		s.value(q)
		n++
	}
}

func (s *scanner) inlineTable(p path) {
	s.next()
	for {
		s.blanks()
		if s.eof() {
			return
		}
		switch s.peek() {
		case '}':
			s.next()
			return
		case ',':
			s.next()
			continue
		}
		start := s.i
		s.keyval(p)
		if s.i == start {
			s.next()
		}
	}
}

// unescape decodes the escapes of a TOML basic string; an invalid escape
// is kept as written.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte(0x1b)
		case '"':
			b.WriteByte('"')
		case '\\':
			b.WriteByte('\\')
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i]]
			if i+1+n > len(s) {
				b.WriteByte('\\')
				b.WriteByte(s[i])
				continue
			}
			r, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
			if err != nil {
				b.WriteByte('\\')
				b.WriteByte(s[i])
				continue
			}
			b.WriteRune(rune(r))
			i += n
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
