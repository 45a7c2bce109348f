package host

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// NewLogger returns the host's logger: JSON lines, or a human console
// format when format is "console" or w is a terminal. Colours only go to
// a terminal: in a file, a pipe or the journal, ANSI codes are noise.
func NewLogger(w io.Writer, format string) zerolog.Logger {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	f, ok := w.(*os.File)
	tty := ok && isatty.IsTerminal(f.Fd())
	if format == "console" || tty {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000", NoColor: !tty}
	}
	return zerolog.New(w).With().Timestamp().Logger()
}
