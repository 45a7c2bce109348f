package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/internal/testwasm"
)

// TestDiskQuota runs a guest that tries to fill its rw dir, and tricks
// to get past the count: it gets ENOSPC (51) at the byte quota, EDQUOT
// (19) at the file count, and its deletes give the room back.
func TestDiskQuota(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	m, err := rt.Compile(ctx, testwasm.BuildC(t, "testdata/quota/fill.c", false))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Release(ctx, m)
	var logs bytes.Buffer
	run := func(dir string, q Quota, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		cfg := AppConfig{Name: "s/a", Logger: zerolog.Nop(), HostLogger: zerolog.New(&logs),
			Dirs: []Dir{{Guest: "/data", Host: dir, Quota: q}}}
		if _, err := rt.Run(ctx, m, cfg, RunConfig{Args: args, Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out.String())
	}
	usage := func(dir string) (int64, int64) {
		return scanUsage(dir)
	}

	t.Run("bytes", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "old"), make([]byte, 100<<10), 0o644) // counted at start
		q := Quota{Bytes: 1 << 20}
		if got, want := run(dir, q, "fill"), fmt.Sprintf("wrote=%d errno=51", 1<<20-100<<10); got != want {
			t.Fatalf("fill: %q, want %q", got, want)
		}
		if b, _ := usage(dir); b > q.Bytes {
			t.Fatalf("the dir holds %d bytes, past its quota of %d", b, q.Bytes)
		}
		if !strings.Contains(logs.String(), `"dir":"/data"`) {
			t.Fatalf("no log of the refusal: %s", logs.String())
		}
		if got := run(dir, q, "rm", "/data/big"); got != "unlink=0" {
			t.Fatal(got)
		}
		if got, want := run(dir, q, "fill"), fmt.Sprintf("wrote=%d errno=51", 1<<20-100<<10); got != want {
			t.Fatalf("fill after the delete: %q, want %q: the room must come back", got, want)
		}
		// Renaming over a file frees its bytes.
		os.WriteFile(filepath.Join(dir, "small"), []byte("x"), 0o644)
		run(dir, q, "rename", "/data/small", "/data/big")
		if got, want := run(dir, q, "fill"), fmt.Sprintf("wrote=%d errno=51", 1<<20-100<<10); got != want {
			t.Fatalf("fill after a rename over the big file: %q, want %q", got, want)
		}
	})
	t.Run("sparse", func(t *testing.T) {
		dir := t.TempDir()
		if got := run(dir, Quota{Bytes: 1 << 20}, "sparse"); got != "pwrite=-1 errno=51" {
			t.Fatalf("pwrite 1 GiB in: %q, want ENOSPC", got)
		}
		if b, _ := usage(dir); b != 0 {
			t.Fatalf("the dir holds %d bytes", b)
		}
	})
	t.Run("setsize", func(t *testing.T) {
		dir := t.TempDir()
		if got := run(dir, Quota{Bytes: 1 << 20}, "setsize"); got != "ftruncate=-1 errno=51 fallocate=51" {
			t.Fatalf("growing by ftruncate and posix_fallocate: %q, want ENOSPC for both", got)
		}
		if b, _ := usage(dir); b != 0 {
			t.Fatalf("the dir holds %d bytes", b)
		}
	})
	t.Run("files", func(t *testing.T) {
		dir := t.TempDir()
		q := Quota{Files: 10}
		if got := run(dir, q, "files"); got != "files=10 errno=19 mkdir=19 symlink=19 link=19" {
			t.Fatalf("files: %q, want EDQUOT at 10 for files, dirs and links", got)
		}
		if _, f := usage(dir); f != 10 {
			t.Fatalf("the dir holds %d entries, want 10", f)
		}
		run(dir, q, "rm", "/data/f3")
		if got := run(dir, q, "files"); got != "files=10 errno=19 mkdir=19 symlink=19 link=19" {
			t.Fatalf("files after a delete: %q, want f3 recreated (not refused at 3), then EDQUOT at f10", got)
		}
	})
}
