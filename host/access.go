package host

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// accessLogger writes one line per request.
type accessLogger interface {
	log(r *http.Request, q *request, s *site, rt *route, w *logWriter, d time.Duration)
}

// newAccessLogger makes the access log of a config: Apache's combined
// format or JSON lines, to stdout or to a file that ReopenLogs reopens.
func newAccessLogger(format, path string, l zerolog.Logger) (accessLogger, *logFile, error) {
	if format == "off" {
		return offLog{}, nil, nil
	}
	var w io.Writer = os.Stdout
	var f *logFile
	if path != "" {
		var err error
		if f, err = openLogFile(path); err != nil {
			return nil, nil, err
		}
		w = f
	}
	if format == "json" {
		if f != nil {
			l = zerolog.New(f).With().Timestamp().Logger()
		}
		return jsonLog{l}, f, nil
	}
	return &combinedLog{w: w}, f, nil
}

// logFile is an append-only log file that can be reopened after logrotate
// moved it away (SIGUSR1).
type logFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

func openLogFile(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("host: access log: %w", err)
	}
	return &logFile{path: path, f: f}, nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the file's path again and closes the old file. On error
// the old file stays in use. Closing the old one cannot lose a line (it
// was opened for appending, without a buffer): its error is not the
// reopen's.
func (l *logFile) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("host: reopen access log %s (the old file stays in use): %w", l.path, err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	old.Close()
	return nil
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

type offLog struct{}

func (offLog) log(*http.Request, *request, *site, *route, *logWriter, time.Duration) {}

// jsonLog logs each request as a zerolog event.
type jsonLog struct{ l zerolog.Logger }

func (j jsonLog) log(r *http.Request, q *request, s *site, rt *route, w *logWriter, d time.Duration) {
	ev := j.l.Info().Str("request_id", q.id).Str("method", r.Method).Str("uri", r.RequestURI).
		Str("host", r.Host).Str("remote", r.RemoteAddr).Int("status", w.status).Int64("bytes", w.bytes).
		Dur("duration", d)
	if s != nil {
		ev = ev.Str("site", s.name)
	}
	if rt != nil && rt.app != nil {
		ev = ev.Str("app", rt.app.name).Str("group", rt.app.group.Config().Name)
	}
	ev.Msg("request")
}

// combinedLog writes Apache's combined format:
// %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
type combinedLog struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (c *combinedLog) log(r *http.Request, q *request, _ *site, _ *route, w *logWriter, _ time.Duration) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buf[:0]
	b = append(b, host...)
	b = append(b, " - "...)
	if q.remoteUser != "" {
		b = appendQuotedSafe(b, q.remoteUser, false)
	} else {
		b = append(b, '-')
	}
	b = append(b, " ["...)
	b = time.Now().AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = appendQuotedSafe(b, r.Method+" "+r.RequestURI+" "+r.Proto, true)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	if w.bytes == 0 {
		b = append(b, '-')
	} else {
		b = strconv.AppendInt(b, w.bytes, 10)
	}
	b = append(b, " \""...)
	b = appendOrDash(b, r.Referer())
	b = append(b, "\" \""...)
	b = appendOrDash(b, r.UserAgent())
	b = append(b, "\"\n"...)
	c.w.Write(b)
	c.buf = b
}

// appendQuotedSafe escapes what Apache escapes in logs: quotes,
// backslashes and control characters, so a request cannot forge log lines.
func appendQuotedSafe(b []byte, s string, quoteOK bool) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		case c == ' ' && !quoteOK:
			b = append(b, '\\', 'x', '2', '0')
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendOrDash(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return appendQuotedSafe(b, s, true)
}
