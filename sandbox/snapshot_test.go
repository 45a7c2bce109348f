package sandbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/internal/testwasm"
)

// TestSnapshot starts instances from a snapshot of the first: their
// constructors do not run again, yet they see its memory (heap included,
// and data the module's data segments set at instantiation) and are told
// they were restored.
func TestSnapshot(t *testing.T) {
	rt := newRuntime(t)
	m, err := rt.Compile(context.Background(), testwasm.BuildC(t, "testdata/snapshot/snap.c", true))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^ctor=(\d+) calls=(\d+) restored=(\d+) token=(\d+) data=set by _initialize heap=made in _initialize\n$`)
	for _, tc := range []struct {
		name  string
		snap  bool
		limit uint64 // memory_limit: with one, the memory maps the snapshot (Linux)
	}{
		{"no snapshot", false, 0},
		{"snapshot copied", true, 0},
		{"snapshot shared", true, 64 << 20},
	} {
		gc := testGroup
		gc.MaxRequests = 1 // every request gets a new instance
		g := rt.NewGroup(gc)
		defer g.Close(context.Background())
		p, err := g.NewPool(m, AppConfig{Name: "test/snap", Snapshot: tc.snap, MemoryLimit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		var tokens []string
		for i := range 3 {
			rec, _, err := get(p, "/")
			if err != nil {
				t.Fatalf("%s: request %d: %v", tc.name, i, err)
			}
			f := line.FindStringSubmatch(rec.Body.String())
			if f == nil {
				t.Fatalf("%s: request %d: body %q", tc.name, i, rec.Body.String())
			}
			wantRestored := "0"
			if tc.snap && i > 0 {
				wantRestored = "1"
			}
			if f[1] != "1" || f[2] != "1" || f[3] != wantRestored {
				t.Errorf("%s: request %d: %q, want ctor=1 calls=1 restored=%s", tc.name, i, f[0], wantRestored)
			}
			tokens = append(tokens, f[4])
		}
		if same := tokens[0] == tokens[1] && tokens[1] == tokens[2]; same != tc.snap {
			t.Errorf("%s: tokens %v: a restored instance must share the first one's memory, a fresh one not", tc.name, tokens)
		}
	}
}

// serveOn runs one request on instance in and returns the body.
func serveOn(t *testing.T, p *Pool, in *instance) string {
	t.Helper()
	env, _ := abi.AppendEnviron(nil, "REQUEST_METHOD", "GET")
	env, _ = abi.AppendEnviron(env, "PATH_INFO", "/")
	rec := httptest.NewRecorder()
	c := &Call{Environ: env, W: HTTPResponse(rec), Log: zerolog.Nop(), phase: phaseHandle}
	if _, err := p.run(context.Background(), in, phaseHandle, c, time.Minute); err != nil {
		t.Fatal(err)
	}
	return rec.Body.String()
}

// memoryOf is a copy of in's linear memory.
func memoryOf(in *instance) []byte {
	mem := in.mod.Memory()
	b, _ := mem.Read(0, mem.Size())
	return bytes.Clone(b)
}

// TestSnapshotIsolation: instances restored from one snapshot share its
// pages (Linux), yet none sees another's writes, whether the guest makes
// them or the host does, and the snapshot itself never changes: a later
// instance still starts from it as it was taken.
func TestSnapshotIsolation(t *testing.T) {
	rt := newRuntime(t)
	m, err := rt.Compile(context.Background(), testwasm.BuildC(t, "testdata/snapshot/snap.c", true))
	if err != nil {
		t.Fatal(err)
	}
	gc := testGroup
	gc.Instances = 8
	g := rt.NewGroup(gc)
	defer g.Close(context.Background())
	p, err := g.NewPool(m, AppConfig{Name: "test/snap", Snapshot: true, MemoryLimit: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	newInstance := func() *instance {
		t.Helper()
		in, err := p.newInstance(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.close(context.Background()) })
		return in
	}
	first := newInstance() // takes the snapshot
	snap := p.snap.Load()
	if snap == nil {
		t.Fatal("no snapshot")
	}
	var taken []byte
	if snap.shared != nil {
		taken = make([]byte, snap.size())
		if _, err := snap.shared.f.ReadAt(taken, 0); err != nil {
			t.Fatal(err)
		}
	} else if runtime.GOOS == "linux" {
		t.Fatal("on Linux a snapshot is a memfd")
	}
	a, b := newInstance(), newInstance()
	if snap.shared != nil && (a.mem.shared != snap.size() || b.mem.shared != snap.size()) {
		t.Fatalf("restored instances map %d and %d bytes of the %d-byte snapshot", a.mem.shared, b.mem.shared, snap.size())
	}
	fresh := memoryOf(b) // as restore left it

	// a writes through its guest (a counter), then over all its memory.
	for i := 1; i <= 3; i++ {
		if body := serveOn(t, p, a); !strings.HasPrefix(body, "ctor=1 calls="+strconv.Itoa(i)+" restored=1 ") {
			t.Fatalf("a, request %d: %q", i, body)
		}
	}
	am, ones := a.mod.Memory(), bytes.Repeat([]byte{0xA5}, int(snap.size()))
	if !am.Write(0, ones) {
		t.Fatal("write")
	}
	if got, _ := am.Read(0, uint32(len(ones))); !bytes.Equal(got, ones) {
		t.Fatal("a does not read its own writes")
	}

	if got := memoryOf(b); !bytes.Equal(got, fresh) {
		t.Fatalf("b's memory changed with a's writes (first difference at %d)", firstDiff(got, fresh))
	}
	c := newInstance()
	if got := memoryOf(c); !bytes.Equal(got, fresh) {
		t.Fatalf("an instance restored after a's writes differs from one restored before (at %d)", firstDiff(got, fresh))
	}
	if taken != nil {
		now := make([]byte, len(taken))
		if _, err := snap.shared.f.ReadAt(now, 0); err != nil || !bytes.Equal(now, taken) {
			t.Fatalf("the snapshot changed (%v)", err)
		}
	}
	want := "ctor=1 calls=1 restored=1 "
	for name, in := range map[string]*instance{"b": b, "c": c} {
		if body := serveOn(t, p, in); !strings.HasPrefix(body, want) {
			t.Errorf("%s: %q, want %q...", name, body, want)
		}
	}
	if body := serveOn(t, p, first); !strings.HasPrefix(body, "ctor=1 calls=1 restored=0 ") {
		t.Errorf("the snapshot's source: %q", body)
	}
	// a's memory unmapped (not kept as a spare), the others still read theirs.
	a.close(context.Background())
	if body := serveOn(t, p, b); !strings.HasPrefix(body, "ctor=1 calls=2 restored=1 ") {
		t.Errorf("b after a closed: %q", body)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestSnapshotSharesPages: an instance restored from a snapshot owns
// almost none of its memory: the pages it reads are the snapshot's, and
// those instantiation wrote (the data segments) were dropped by restore.
// A copy, as before, made each instance own the whole snapshot. Measured
// on the mapping itself (/proc/self/smaps), not as a time.
func TestSnapshotSharesPages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("memory is shared on Linux only")
	}
	rt := newRuntime(t)
	_, p := newPool(t, rt, testGroup, "examples/hello", AppConfig{Snapshot: true, MemoryLimit: 256 << 20})
	first, err := p.newInstance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer first.close(context.Background())
	in, err := p.newInstance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer in.close(context.Background())
	size := p.snap.Load().size()
	owned := privateBytes(t, in.mem.buf)
	t.Logf("snapshot %d KiB; a restored instance owns %d KiB of it (the source instance %d KiB)", size>>10, owned>>10, privateBytes(t, first.mem.buf)>>10)
	if owned > size/10 {
		t.Fatalf("a restored instance owns %d of the snapshot's %d bytes: its pages are not shared", owned, size)
	}
	for range 20 {
		serveOn(t, p, in)
	}
	t.Logf("after 20 requests it owns %d KiB", privateBytes(t, in.mem.buf)>>10)
	if ms := rt.MemoryStats(); ms.Snapshots != size {
		t.Errorf("MemoryStats.Snapshots %d, want the snapshot's %d", ms.Snapshots, size)
	}
}

// privateBytes is the memory of b the process owns alone: its pages
// present and anonymous (written, or copied on write), as
// /proc/self/pagemap says page by page; a page still the snapshot's is a
// file page.
func privateBytes(t *testing.T, b []byte) uint64 {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	page := uint64(os.Getpagesize())
	start := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) / page
	entries := make([]byte, 8*(uint64(len(b))/page))
	if _, err := f.ReadAt(entries, int64(start*8)); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for i := 0; i < len(entries); i += 8 {
		e := binary.LittleEndian.Uint64(entries[i:])
		const present, swapped, file = 1 << 63, 1 << 62, 1 << 61
		if e&(present|swapped) != 0 && e&file == 0 {
			n++
		}
	}
	return n * page
}

// TestSnapshotUnload: unloading an idle pool, or closing its group, lets
// its snapshot's memory go at once (the memfd closed), not when a garbage
// collection finds it; an instance still mapping it kept its pages.
func TestSnapshotUnload(t *testing.T) {
	rt := newRuntime(t)
	m, err := rt.Compile(context.Background(), testwasm.BuildC(t, "testdata/snapshot/snap.c", true))
	if err != nil {
		t.Fatal(err)
	}
	g := rt.NewGroup(testGroup)
	defer g.Close(context.Background())
	p, err := g.NewPool(m, AppConfig{Name: "test/snap", Snapshot: true, MemoryLimit: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	first, err := p.newInstance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	first.close(context.Background())
	in, err := p.newInstance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer in.close(context.Background())
	size := p.snap.Load().size()
	if got := rt.MemoryStats().Snapshots; runtime.GOOS == "linux" && got != size {
		t.Fatalf("Snapshots %d, want %d", got, size)
	}
	if !p.Unload() {
		t.Fatal("not unloaded")
	}
	if got := rt.MemoryStats().Snapshots; got != 0 {
		t.Errorf("Snapshots %d after Unload, want 0", got)
	}
	if body := serveOn(t, p, in); !strings.HasPrefix(body, "ctor=1 calls=1 restored=1 ") || !strings.Contains(body, "data=set by _initialize") {
		t.Errorf("an instance mapping the unloaded snapshot: %q", body)
	}

	// So does closing a group (a reload's old config).
	g2 := rt.NewGroup(testGroup)
	p2, err := g2.NewPool(m, AppConfig{Name: "test/snap", Snapshot: true, MemoryLimit: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(p2, "/"); err != nil {
		t.Fatal(err)
	}
	g2.Close(context.Background())
	if got := rt.MemoryStats().Snapshots; got != 0 {
		t.Errorf("Snapshots %d after the group closed, want 0", got)
	}
}
