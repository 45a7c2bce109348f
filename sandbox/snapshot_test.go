package sandbox

import (
	"context"
	"regexp"
	"testing"

	"github.com/wasgi/wasgi/internal/testwasm"
)

// TestSnapshot starts instances from a snapshot of the first: their
// constructors do not run again, yet they see its memory (heap included)
// and are told they were restored.
func TestSnapshot(t *testing.T) {
	rt := newRuntime(t)
	m, err := rt.Compile(context.Background(), testwasm.BuildC(t, "testdata/snapshot/snap.c", true))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^ctor=(\d+) calls=(\d+) restored=(\d+) token=(\d+) heap=made in _initialize\n$`)
	for _, snap := range []bool{false, true} {
		gc := testGroup
		gc.MaxRequests = 1 // every request gets a new instance
		g := rt.NewGroup(gc)
		defer g.Close(context.Background())
		p, err := g.NewPool(m, AppConfig{Name: "test/snap", Snapshot: snap})
		if err != nil {
			t.Fatal(err)
		}
		var tokens []string
		for i := range 3 {
			rec, _, err := get(p, "/")
			if err != nil {
				t.Fatalf("snapshot=%v request %d: %v", snap, i, err)
			}
			f := line.FindStringSubmatch(rec.Body.String())
			if f == nil {
				t.Fatalf("snapshot=%v request %d: body %q", snap, i, rec.Body.String())
			}
			wantRestored := "0"
			if snap && i > 0 {
				wantRestored = "1"
			}
			if f[1] != "1" || f[2] != "1" || f[3] != wantRestored {
				t.Errorf("snapshot=%v request %d: %q, want ctor=1 calls=1 restored=%s", snap, i, f[0], wantRestored)
			}
			tokens = append(tokens, f[4])
		}
		if same := tokens[0] == tokens[1] && tokens[1] == tokens[2]; same != snap {
			t.Errorf("snapshot=%v: tokens %v: a restored instance must share the first one's memory, a fresh one not", snap, tokens)
		}
	}
}
