package sandbox

import (
	"bytes"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// tailSize is how much of a guest's last output is kept for error logs.
const tailSize = 4 << 10

// maxLine caps one logged line of guest output.
const maxLine = 8 << 10

// tailWriter turns a guest's stdout or stderr into log events, one per
// line, and keeps the last tailSize bytes so a trap can be logged with the
// panic message that preceded it.
type tailWriter struct {
	log    zerolog.Logger
	level  zerolog.Level
	stream string
	quiet  bool // keep the tail, log nothing

	mu   sync.Mutex
	line []byte
	ring [tailSize]byte // the last bytes written, ring[pos:] then ring[:pos]
	pos  int
	full bool
}

func newTailWriter(l zerolog.Logger, level zerolog.Level, stream string) *tailWriter {
	return &tailWriter{log: l, level: level, stream: stream}
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keep(p)
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			w.line = append(w.line, rest...)
			if len(w.line) >= maxLine {
				w.emit()
			}
			break
		}
		w.line = append(w.line, rest[:i]...)
		w.emit()
		rest = rest[i+1:]
	}
	return len(p), nil
}

// keep copies p into the ring: O(len(p)), whatever was written before.
func (w *tailWriter) keep(p []byte) {
	if len(p) >= tailSize {
		copy(w.ring[:], p[len(p)-tailSize:])
		w.pos, w.full = 0, true
		return
	}
	n := copy(w.ring[w.pos:], p)
	if n < len(p) {
		copy(w.ring[:], p[n:])
		w.full = true
	}
	w.pos = (w.pos + len(p)) % tailSize
	if w.pos == 0 {
		w.full = true
	}
}

func (w *tailWriter) emit() {
	if w.quiet {
		w.line = w.line[:0]
		return
	}
	if len(w.line) > maxLine {
		w.line = w.line[:maxLine]
	}
	w.log.WithLevel(w.level).Str("source", w.stream).Msg(sanitize(w.line))
	w.line = w.line[:0]
}

// resetTail forgets the bytes kept so far (not the line being
// assembled, which is still logged whole): the tail then holds only what
// was written since.
func (w *tailWriter) resetTail() {
	w.mu.Lock()
	w.pos, w.full = 0, false
	w.mu.Unlock()
}

// String returns the last bytes written.
func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.full {
		return string(w.ring[:w.pos])
	}
	return string(w.ring[w.pos:]) + string(w.ring[:w.pos])
}

// sanitize makes guest text safe for any log format: control characters
// (CR, LF, ESC and the rest, but tab) become \xNN, so a guest cannot forge
// log lines or drive a terminal reading the console format.
func sanitize(b []byte) string {
	clean := true
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(b)+16)
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			out = append(out, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

// sanitizeLines is sanitize for a multi-line message (a guest log call
// with a Python traceback): each LF is kept, and the line after it is
// indented by a tab, so the message reads as one event with real
// newlines, and no line of it can pass for an event of its own in a
// console log. CR and every other control byte become \xNN as in sanitize.
func sanitizeLines(b []byte) string {
	if bytes.IndexByte(b, '\n') < 0 {
		return sanitize(b)
	}
	var out strings.Builder
	for i, line := range bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n")) {
		if i > 0 {
			out.WriteString("\n\t")
		}
		out.WriteString(sanitize(line))
	}
	return out.String()
}
