package host

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// NewLogger returns the host's logger: JSON lines, or a human console
// format when format is "console" or w is a terminal.
func NewLogger(w io.Writer, format string) zerolog.Logger {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	if f, ok := w.(*os.File); format == "console" || ok && isatty.IsTerminal(f.Fd()) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(w).With().Timestamp().Logger()
}
