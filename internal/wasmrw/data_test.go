package wasmrw

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasgi/wasgi/internal/testwasm"
)

// dataModule is a module with one memory of two pages, exporting it, and
// the given data section body (nil: none) and data count section.
func dataModule(data []byte, dataCount bool) []byte {
	secs := []section{
		{5, []byte{1, 0, 2}},                   // memory: min 2 pages
		{7, []byte{1, 3, 'm', 'e', 'm', 2, 0}}, // export "mem"
	}
	if dataCount {
		secs = append(secs, section{secDataCount, []byte{byte(bytes.Count(data, []byte{0x41}))}})
	}
	if data != nil {
		secs = append(secs, section{secData, data})
	}
	return joinSections([]byte("\x00asm\x01\x00\x00\x00"), secs)
}

type seg struct {
	flags byte
	off   int32
	data  string
}

func dataSection(segs ...seg) []byte {
	b := binary.AppendUvarint(nil, uint64(len(segs)))
	for _, s := range segs {
		b = append(b, s.flags)
		if s.flags == 0 {
			b = append(b, 0x41)
			b = appendS32(b, s.off)
			b = append(b, 0x0b)
		}
		b = binary.AppendUvarint(b, uint64(len(s.data)))
		b = append(b, s.data...)
	}
	return b
}

// memoryAfterInstantiation is the exported memory of wasm, right after
// instantiation and data segments, with no start function run.
func memoryAfterInstantiation(t *testing.T, wasm []byte) []byte {
	t.Helper()
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(testwasm.CacheDir(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close(ctx)
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	stubHostImports(t, ctx, rt, wasm)
	m, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	mem := m.ExportedMemory("mem")
	if mem == nil {
		mem = m.Memory()
	}
	b, _ := mem.Read(0, mem.Size())
	return bytes.Clone(b)
}

func dataSegments(t *testing.T, wasm []byte) int {
	t.Helper()
	secs, err := splitSections(wasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secs {
		if s.id == secData {
			return int((&reader{b: s.body}).u32())
		}
	}
	return 0
}

func TestCoalesceData(t *testing.T) {
	for _, tc := range []struct {
		name      string
		segs      []seg
		dataCount bool
		want      int // segments after; 0: module unchanged
	}{
		{"gaps filled", []seg{{0, 10, "ab"}, {0, 20, "cd"}, {0, 20 + 2 + maxDataGap, "ef"}}, false, 1},
		{"sorted by offset", []seg{{0, 300, "late"}, {0, 100, "early"}, {0, 200, "mid"}}, false, 1},
		{"far apart", []seg{{0, 0, "a"}, {0, 1 + maxDataGap + 1, "b"}, {0, 70000, "c"}}, false, 3},
		{"empty segments", []seg{{0, 5, ""}, {0, 5, "x"}, {0, 9, ""}}, false, 1},
		{"overlap", []seg{{0, 10, "abcd"}, {0, 12, "XY"}}, false, 0},
		{"passive", []seg{{0, 10, "ab"}, {1, 0, "cd"}}, false, 0},
		{"data count", []seg{{0, 10, "ab"}, {0, 20, "cd"}}, true, 0},
		{"one segment", []seg{{0, 10, "ab"}}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wasm := dataModule(dataSection(tc.segs...), tc.dataCount)
			orig := bytes.Clone(wasm)
			got := CoalesceData(wasm)
			if !bytes.Equal(wasm, orig) {
				t.Fatal("the original module was modified")
			}
			if tc.want == 0 {
				if !bytes.Equal(got, wasm) {
					t.Fatalf("rewritten, want unchanged")
				}
				return
			}
			if n := dataSegments(t, got); n != tc.want {
				t.Fatalf("%d segments, want %d", n, tc.want)
			}
			if !bytes.Equal(memoryAfterInstantiation(t, got), memoryAfterInstantiation(t, wasm)) {
				t.Fatal("memory differs after instantiation")
			}
		})
	}
	if got := CoalesceData([]byte("not wasm")); string(got) != "not wasm" {
		t.Fatal("garbage rewritten")
	}
}

// TestCoalesceGoModule: a Go module's memory after instantiation is the
// same with its segments merged.
func TestCoalesceGoModule(t *testing.T) {
	wasm, err := os.ReadFile(testwasm.Build(t, "examples/hello"))
	if err != nil {
		t.Fatal(err)
	}
	got := CoalesceData(wasm)
	before, after := dataSegments(t, wasm), dataSegments(t, got)
	t.Logf("%d data segments -> %d; %d -> %d bytes", before, after, len(wasm), len(got))
	if after >= before/100 {
		t.Fatalf("%d segments -> %d", before, after)
	}
	if !bytes.Equal(memoryAfterInstantiation(t, got), memoryAfterInstantiation(t, wasm)) {
		t.Fatal("memory differs after instantiation")
	}
}

func TestS32(t *testing.T) {
	for _, v := range []int32{0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, -8193, 1 << 20, math.MaxInt32, math.MinInt32} {
		r := &reader{b: appendS32(nil, v)}
		if got := r.s32(); got != v || r.err != nil || len(r.b) != 0 {
			t.Errorf("%d: read %d, %v, %d left", v, got, r.err, len(r.b))
		}
	}
}

// FuzzCoalesceData: any input is returned as it is or rewritten, never a
// panic, never a change to the input.
func FuzzCoalesceData(f *testing.F) {
	f.Add(dataModule(dataSection(seg{0, 10, "ab"}, seg{0, 20, "cd"}), false))
	f.Add(dataModule(dataSection(seg{0, 10, "abcd"}, seg{0, 12, "XY"}), false))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		orig := bytes.Clone(wasm)
		CoalesceData(wasm)
		if !bytes.Equal(wasm, orig) {
			t.Fatal("input modified")
		}
	})
}
