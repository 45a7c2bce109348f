package host

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsoleLogNoColour: log_format = "console" into a file, a pipe or a
// buffer writes plain text, without the ANSI colour codes a terminal gets.
func TestConsoleLogNoColour(t *testing.T) {
	check := func(t *testing.T, out []byte) {
		t.Helper()
		if bytes.IndexByte(out, 0x1b) >= 0 {
			t.Fatalf("ESC in console output: %q", out)
		}
		if s := string(out); !strings.Contains(s, "INF") || !strings.Contains(s, "hello") || !strings.Contains(s, "site=a") || strings.HasPrefix(s, "{") {
			t.Fatalf("not the console format: %q", s)
		}
	}
	t.Run("file", func(t *testing.T) {
		f, err := os.Create(filepath.Join(t.TempDir(), "log"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		log := NewLogger(f, "console")
		log.Info().Str("site", "a").Msg("hello")
		out, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		check(t, out)
	})
	t.Run("pipe", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		log := NewLogger(w, "console")
		log.Info().Str("site", "a").Msg("hello")
		w.Close()
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		check(t, out)
	})
	t.Run("buffer", func(t *testing.T) {
		var b bytes.Buffer
		log := NewLogger(&b, "console")
		log.Info().Str("site", "a").Msg("hello")
		check(t, b.Bytes())
	})
}
