package sandbox

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/internal/testwasm"
)

func TestRun(t *testing.T) {
	rt := newRuntime(t)
	for _, tc := range []struct {
		name    string
		src     string
		reactor bool
	}{
		{"reactor wasgi_run", "testdata/run/run.c", true},
		{"command _start", "testdata/run/cmd.c", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := rt.Compile(context.Background(), testwasm.BuildC(t, tc.src, tc.reactor))
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Release(context.Background(), m)
			if tc.reactor && !m.Run {
				t.Fatal("wasgi_run not found")
			}
			cfg := AppConfig{Name: "site/app", Env: map[string]string{"APP_ONLY": "app", "OVER": "app"}, Logger: zerolog.Nop(), MemoryLimit: 16 << 20}
			run := func(rc RunConfig) (string, string, int, error) {
				var out, errb bytes.Buffer
				rc.Stdout, rc.Stderr = &out, &errb
				code, err := rt.Run(context.Background(), m, cfg, rc)
				return out.String(), errb.String(), code, err
			}

			out, stderr, code, err := run(RunConfig{Args: []string{"stdin", "3"}, Stdin: strings.NewReader("typed at the terminal")})
			if err != nil || code != 3 {
				t.Fatalf("run = %d, %v, want exit status 3", code, err)
			}
			want := "arg[0]=site/app\narg[1]=stdin\narg[2]=3\ntyped at the terminal"
			if out != want || stderr != "to stderr\n" {
				t.Fatalf("stdout %q, stderr %q; want %q and the stderr line", out, stderr, want)
			}

			out, _, code, err = run(RunConfig{Args: []string{"env", "OVER"}, Env: map[string]string{"OVER": "run"}})
			if err != nil || code != 0 || !strings.Contains(out, "OVER=run") {
				t.Fatalf("run env = %d, %v, %q: the run's env must replace the app's", code, err, out)
			}
			out, _, _, _ = run(RunConfig{Args: []string{"env", "APP_ONLY"}})
			if !strings.Contains(out, "APP_ONLY=app") {
				t.Fatalf("the app's env is missing from a run: %q", out)
			}

			if tc.reactor { // no request: the request imports refuse
				out, _, _, _ = run(RunConfig{Args: []string{"environ"}})
				if !strings.Contains(out, "environ_len=-1") {
					t.Fatalf("environ_len outside a request: %q", out)
				}
			}

			start := time.Now()
			_, _, _, err = run(RunConfig{Args: []string{"spin"}, Timeout: 200 * time.Millisecond})
			var gerr *GuestError
			if !errors.As(err, &gerr) || gerr.Kind != ErrTimeout {
				t.Fatalf("spinning run: %v, want ErrTimeout", err)
			}
			t.Logf("spinning run stopped after %v", time.Since(start))
		})
	}

	// A reactor without wasgi_run says so.
	hello, err := rt.Compile(context.Background(), testwasm.Build(t, "examples/hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Run(context.Background(), hello, AppConfig{Name: "h", Logger: zerolog.Nop()}, RunConfig{}); !errors.Is(err, ErrNoRunExport) {
		t.Fatalf("run of a reactor without wasgi_run: %v", err)
	}
}
