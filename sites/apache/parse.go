package apache

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	slashpath "path"
	"path/filepath"
	"slices"
	"strings"
)

// Limits of the parser: a configuration larger or deeper than this is
// refused with an error rather than read.
const (
	maxFileSize = 16 << 20 // bytes of one file
	maxDepth    = 32       // nested Includes
	maxNesting  = 64       // nested <Section>s in one file
)

// Directive is one directive, or one <Section> with the directives inside
// it, of an Apache configuration file.
type Directive struct {
	// Name is the directive's name as written ("WSGIScriptAlias"), or the
	// section's name without brackets ("VirtualHost" for <VirtualHost>).
	// Apache matches names without regard to case; so does [Translate].
	Name string
	// Args are the arguments, with quotes removed and ${NAME} replaced by
	// the value of an earlier Define.
	Args []string
	// File and Line locate the directive: the file as named to
	// [ParseFiles] or [ParseFS] or as an Include reached it, and the first
	// line of the directive, counting from 1.
	File string
	Line int
	// Section is true for a <Section> ... </Section> container.
	Section bool
	// Children are a section's directives, or, for an Include or
	// IncludeOptional, the directives of the files it read, in order.
	Children []*Directive
	// Included lists the files an Include or IncludeOptional read.
	Included []string

	seq     int  // position in the whole configuration, for the report's order
	defined bool // for <IfDefine>: the condition held when it was read
}

// String returns the directive as it could be written in a file, on one
// line: `WSGIScriptAlias / "/srv/my site/wsgi.py"` or `<Location /admin>`.
func (d *Directive) String() string {
	var b strings.Builder
	if d.Section {
		b.WriteByte('<')
	}
	b.WriteString(d.Name)
	for _, a := range d.Args {
		b.WriteByte(' ')
		if a == "" || strings.ContainsAny(a, " \t\"'") {
			b.WriteString(`"` + strings.ReplaceAll(a, `"`, `\"`) + `"`)
		} else {
			b.WriteString(a)
		}
	}
	if d.Section {
		b.WriteByte('>')
	}
	return b.String()
}

// is reports whether the directive has the given name, ignoring case.
func (d *Directive) is(name string) bool { return strings.EqualFold(d.Name, name) }

// Error is a configuration file that cannot be read: a syntax error such as
// an unclosed section or quote, or an Include that fails.
type Error struct {
	// File is the file as named to the parser or reached by an Include.
	File string
	// Line counts from 1; 0 when the problem belongs to the whole file.
	Line int
	// Msg says what is wrong.
	Msg string
}

// Error returns "file:line: message".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// ParseFiles reads the Apache configuration files at names, in order, with
// the files their Include and IncludeOptional directives name. A relative
// Include path is taken relative to the folder of the file it is in. The
// error, if any, is an [*Error] naming the file and line.
func ParseFiles(names ...string) ([]*Directive, error) {
	return parse(osSource{}, names)
}

// ParseFS is [ParseFiles] reading from fsys: names and Include paths are
// slash-separated paths in fsys, an absolute Include path ("/etc/x.conf")
// being taken from the root of fsys.
func ParseFS(fsys fs.FS, names ...string) ([]*Directive, error) {
	return parse(fsSource{fsys}, names)
}

func parse(src source, names []string) ([]*Directive, error) {
	p := &parser{src: src, defines: map[string]string{}}
	var out []*Directive
	for _, name := range names {
		list, err := p.file(name, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

// source is where configuration files come from: the operating system or
// an fs.FS.
type source interface {
	// join resolves name, as written in an Include of the file from.
	join(from, name string) string
	// key identifies a file, for finding Include loops.
	key(name string) string
	open(name string) (fs.File, error)
	glob(pattern string) ([]string, error)
	walk(root string, fn fs.WalkDirFunc) error
}

type osSource struct{}

func (osSource) join(from, name string) string {
	if filepath.IsAbs(name) {
		return filepath.Clean(name)
	}
	return filepath.Join(filepath.Dir(from), name)
}

func (osSource) key(name string) string {
	if abs, err := filepath.Abs(name); err == nil {
		return abs
	}
	return name
}

func (osSource) open(name string) (fs.File, error)         { return os.Open(name) }
func (osSource) glob(pattern string) ([]string, error)     { return filepath.Glob(pattern) }
func (osSource) walk(root string, fn fs.WalkDirFunc) error { return filepath.WalkDir(root, fn) }

type fsSource struct{ fsys fs.FS }

func (fsSource) join(from, name string) string {
	if slashpath.IsAbs(name) {
		if name = strings.TrimPrefix(slashpath.Clean(name), "/"); name == "" {
			return "."
		}
		return name
	}
	return slashpath.Join(slashpath.Dir(from), name)
}

func (fsSource) key(name string) string                      { return slashpath.Clean(name) }
func (s fsSource) open(name string) (fs.File, error)         { return s.fsys.Open(name) }
func (s fsSource) glob(pattern string) ([]string, error)     { return fs.Glob(s.fsys, pattern) }
func (s fsSource) walk(root string, fn fs.WalkDirFunc) error { return fs.WalkDir(s.fsys, root, fn) }

// parser reads one configuration: its files, Defines and position counter.
type parser struct {
	src     source
	defines map[string]string
	reading []string // keys of the files being read, outermost first
	seq     int
}

// read returns the bytes of a regular file of at most maxFileSize bytes.
func (p *parser) read(name string) ([]byte, error) {
	f, err := p.src.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d MiB", maxFileSize>>20)
	}
	return data, nil
}

// file parses one file; include is the Include directive that names it,
// nil for a file named by the caller.
func (p *parser) file(name string, include *Directive) ([]*Directive, error) {
	fail := func(msg string) error {
		if include != nil {
			return &Error{File: include.File, Line: include.Line, Msg: msg}
		}
		return &Error{File: name, Msg: msg}
	}
	key := p.src.key(name)
	if i := slices.Index(p.reading, key); i >= 0 {
		loop := append(slices.Clone(p.reading[i:]), key)
		return nil, fail("Include loop: " + strings.Join(loop, " includes "))
	}
	if len(p.reading) >= maxDepth {
		return nil, fail(fmt.Sprintf("Includes nested more than %d deep", maxDepth))
	}
	data, err := p.read(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if include != nil {
			return nil, fail(fmt.Sprintf("%s: cannot read %s: %v", include.Name, name, err))
		}
		return nil, fail(fmt.Sprintf("cannot read: %v", err))
	}
	p.reading = append(p.reading, key)
	defer func() { p.reading = p.reading[:len(p.reading)-1] }()
	return p.lines(name, string(data))
}

// lines parses the text of one file into directives and sections.
func (p *parser) lines(name, text string) ([]*Directive, error) {
	top := &Directive{Section: true}
	open := []*Directive{top} // the sections not yet closed; top is the file
	errAt := func(line int, format string, args ...any) error {
		return &Error{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	physical := strings.Split(text, "\n")
	for i := 0; i < len(physical); i++ {
		start := i + 1
		// A backslash at the end of a line joins the next one to it, as
		// Apache does, before comments are recognised.
		line := strings.TrimRight(physical[i], " \t\r\f\v")
		for strings.HasSuffix(line, `\`) && i+1 < len(physical) {
			i++
			line = line[:len(line)-1] + strings.TrimRight(physical[i], " \t\r\f\v")
		}
		line = strings.TrimLeft(line, " \t\r\f\v")
		if line == "" || line[0] == '#' {
			continue
		}
		if line = strings.TrimSpace(p.expand(line)); line == "" {
			continue
		}
		parent := open[len(open)-1]
		switch {
		case strings.HasPrefix(line, "</"):
			if !strings.HasSuffix(line, ">") {
				return nil, errAt(start, "%s: missing '>'", line)
			}
			closing := strings.TrimSpace(line[2 : len(line)-1])
			if parent == top {
				return nil, errAt(start, "</%s> without a matching <%s>", closing, closing)
			}
			if !strings.EqualFold(closing, parent.Name) {
				return nil, errAt(start, "</%s> closes <%s> (line %d)", closing, parent.Name, parent.Line)
			}
			open = open[:len(open)-1]
		case line[0] == '<':
			if !strings.HasSuffix(line, ">") {
				return nil, errAt(start, "<%s: missing '>' at the end of the line", strings.TrimPrefix(line, "<"))
			}
			inner := line[1 : len(line)-1]
			n := strings.IndexAny(inner, " \t\r\f\v")
			if n < 0 {
				n = len(inner)
			}
			if n == 0 {
				return nil, errAt(start, "%s: section without a name", line)
			}
			args, err := words(inner[n:])
			if err != nil {
				return nil, errAt(start, "<%s>: %v", inner[:n], err)
			}
			if len(open) > maxNesting {
				return nil, errAt(start, "sections nested more than %d deep", maxNesting)
			}
			d := p.directive(name, start, inner[:n], args)
			d.Section = true
			if d.is("IfDefine") && len(args) > 0 {
				def := strings.TrimPrefix(args[0], "!")
				_, ok := p.defines[def]
				d.defined = ok != strings.HasPrefix(args[0], "!")
			}
			parent.Children = append(parent.Children, d)
			open = append(open, d)
		default:
			w, err := words(line)
			if err != nil {
				return nil, errAt(start, "%v", err)
			}
			if len(w) == 0 {
				continue
			}
			d := p.directive(name, start, w[0], w[1:])
			parent.Children = append(parent.Children, d)
			if err := p.run(d); err != nil {
				return nil, err
			}
		}
	}
	if len(open) > 1 {
		s := open[len(open)-1]
		return nil, errAt(s.Line, "<%s> is never closed: missing </%s>", s.Name, s.Name)
	}
	return top.Children, nil
}

func (p *parser) directive(file string, line int, name string, args []string) *Directive {
	p.seq++
	return &Directive{Name: name, Args: args, File: file, Line: line, seq: p.seq}
}

// run carries out the directives that act while the files are read:
// Define, UnDefine, Include and IncludeOptional.
func (p *parser) run(d *Directive) error {
	switch {
	case d.is("Define") && len(d.Args) > 0:
		p.defines[d.Args[0]] = strings.Join(d.Args[1:], " ")
	case d.is("UnDefine") && len(d.Args) > 0:
		delete(p.defines, d.Args[0])
	case d.is("Include") || d.is("IncludeOptional"):
		if len(d.Args) != 1 {
			return &Error{File: d.File, Line: d.Line, Msg: d.Name + " takes one file name or pattern"}
		}
		return p.include(d)
	}
	return nil
}

// include reads the files an Include names: one file, every file below a
// folder, or every file a pattern matches, in lexical order.
func (p *parser) include(d *Directive) error {
	optional := d.is("IncludeOptional")
	target := p.src.join(d.File, d.Args[0])
	var names []string
	if strings.ContainsAny(target, "*?[") {
		matches, err := p.src.glob(target)
		if err != nil {
			return &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf("%s %s: bad pattern", d.Name, d.Args[0])}
		}
		for _, m := range matches {
			if f, err := p.src.open(m); err == nil {
				fi, err := f.Stat()
				f.Close()
				if err == nil && fi.Mode().IsRegular() {
					names = append(names, m)
				}
			}
		}
		if len(names) == 0 && !optional {
			return &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf("Include %s: no file matches (IncludeOptional allows that)", d.Args[0])}
		}
	} else {
		err := p.src.walk(target, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() {
				names = append(names, path)
			}
			return nil
		})
		if err != nil {
			if optional {
				return nil
			}
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf("Include %s: %v", d.Args[0], err)}
		}
	}
	slices.Sort(names)
	for _, name := range names {
		list, err := p.file(name, d)
		if err != nil {
			return err
		}
		d.Children = append(d.Children, list...)
		d.Included = append(d.Included, name)
	}
	return nil
}

// expand replaces ${NAME} by the value of an earlier Define, as Apache does
// on each line before splitting it into words. Undefined names stay as
// they are.
func (p *parser) expand(line string) string {
	if !strings.Contains(line, "${") {
		return line
	}
	var b strings.Builder
	for {
		i := strings.Index(line, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(line[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(line[:i])
		if v, ok := p.defines[line[i+2:i+j]]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(line[i : i+j+1])
		}
		line = line[i+j+1:]
	}
	b.WriteString(line)
	return b.String()
}

// words splits a line into arguments as Apache's ap_getword_conf does: runs
// of non-space characters, or text in single or double quotes, in which a
// backslash escapes the quote character.
func words(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		if isSpace(c) {
			i++
			continue
		}
		if c != '"' && c != '\'' {
			j := i
			for j < len(s) && !isSpace(s[j]) {
				j++
			}
			out = append(out, s[i:j])
			i = j
			continue
		}
		var w strings.Builder
		j := i + 1
		for ; j < len(s) && s[j] != c; j++ {
			if s[j] == '\\' && j+1 < len(s) && s[j+1] == c {
				j++
			}
			w.WriteByte(s[j])
		}
		if j >= len(s) {
			return nil, fmt.Errorf("unclosed %c quote: %s", c, s[i:])
		}
		out = append(out, w.String())
		i = j + 1
	}
	return out, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' }
