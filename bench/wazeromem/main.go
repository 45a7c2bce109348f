// Command wazeromem measures what a compiled module costs the host in
// wazero alone (no wasgi code): the resident machine code and the Go heap
// it keeps after compilation, beside the sizes of the module's code and
// data sections. It is the reproduction for docs/PERFORMANCE.md's memory
// table and for what to ask of wazero upstream.
//
//	go run ./bench/wazeromem examples/build/hello.wasm ...
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: wazeromem MODULE.wasm ...")
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	var keep []wazero.CompiledModule
	fmt.Println("module\twasm_bytes\tcode_section\tdata_section\tmachine_code_kib\tgo_heap_kept_kib")
	for _, p := range os.Args[1:] {
		wasm, err := os.ReadFile(p)
		if err != nil {
			log.Fatal(err)
		}
		code, data := sectionSize(wasm, 10), sectionSize(wasm, 11)
		heap0, exec0 := heapInuse(), execResident()
		c, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			log.Fatal(err)
		}
		size := len(wasm)
		wasm = nil // only what the compiled module keeps stays live
		keep = append(keep, c)
		fmt.Printf("%s\t%d\t%d\t%d\t%d\t%d\n", p, size, code, data, (execResident()-exec0)>>10, (heapInuse()-heap0)>>10)
	}
	runtime.KeepAlive(keep)
}

// heapInuse is the Go heap in use after a collection.
func heapInuse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// sectionSize is the size of the module's section with this id.
func sectionSize(wasm []byte, id byte) int {
	b := wasm[8:]
	for len(b) > 0 {
		sid := b[0]
		n, w := binary.Uvarint(b[1:])
		if w <= 0 {
			return 0
		}
		if sid == id {
			return int(n)
		}
		b = b[1+w+int(n):]
	}
	return 0
}

// execResident is the resident size of the anonymous executable mappings.
func execResident() int64 {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total int64
	code := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 5 && strings.Contains(fs[0], "-") && len(fs[1]) == 4 {
			code = len(fs) == 5 && fs[1][2] == 'x'
		} else if code && len(fs) >= 2 && fs[0] == "Rss:" {
			kb, _ := strconv.ParseInt(fs[1], 10, 64)
			total += kb << 10
		}
	}
	return total
}
