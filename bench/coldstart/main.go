// Command coldstart measures one start of a host with many Go sites: the
// time from loading the config to a host ready to serve (every module
// compiled, every min_instances warm, as `wasgi serve` does before it
// listens), the first request of sites no request has used yet, and the
// process's memory. One case per process, so that nothing compiled or
// instantiated by an earlier case is reused: bench/coldstart.sh runs the
// matrix.
//
//	go run ./bench/coldstart -wasm hello.wasm -work /tmp/cs -cache /tmp/cs/cache -sites 100 -distinct -min 0
//
// The sites all run the same app. With -distinct each site has its own
// copy of the module, made different by a custom section, so that each is
// compiled (and cached) on its own, as 100 different apps would be;
// without it they share one module, which the host compiles once.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/host"
	"github.com/wasgi/wasgi/sites"
)

func main() {
	wasm := flag.String("wasm", "", "the Go app (examples/hello built for wasip1)")
	work := flag.String("work", "", "folder for the generated config and modules")
	cache := flag.String("cache", "", "compilation cache folder")
	n := flag.Int("sites", 100, "number of sites")
	distinct := flag.Bool("distinct", false, "one module per site instead of one shared module")
	minInst := flag.Int("min", 0, "min_instances per site (instances = max(4, min))")
	first := flag.Int("first", 5, "never-used sites to request once after the start")
	lazy := flag.Bool("lazy", false, `compile = "lazy": modules compile on their site's first request`)
	gap := flag.Duration("gap", 0, "idle time before each never-used site's first request (0: back to back)")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the start to this file")
	smaps := flag.Bool("smaps", false, "with -idle: keep /proc/self/smaps of the idle host in the work folder")
	idleWait := flag.Duration("idle-wait", 0, "with -idle: how long to wait before measuring the idle RSS (default 2 idle_timeouts + 1 s; spares are trimmed after a minute)")
	idle := flag.Duration("idle", 0, "the groups' idle_timeout; with it, also the RSS once the requested sites went idle (lazy ones unload)")
	flag.Parse()
	if *wasm == "" || *work == "" || *cache == "" {
		flag.Usage()
		os.Exit(2)
	}
	compile := "eager"
	if *lazy {
		compile = "lazy"
	}
	cfgPath, err := generate(*wasm, *work, *cache, *n, *distinct, *minInst, compile, *idle)
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
	}
	start := time.Now()
	cfg, err := sites.Load(cfgPath)
	if err != nil {
		log.Fatal(err)
	}
	h, err := host.New(ctx, cfg, zerolog.Nop())
	if err != nil {
		log.Fatal(err)
	}
	ready := time.Since(start)
	pprof.StopCPUProfile()
	peakStart := rss("VmHWM")
	runtime.GC()
	debug.FreeOSMemory()
	rssReady := rss("VmRSS")
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)

	// The last sites are the never-used ones: with min_instances = 0 they
	// have no instance yet.
	var firsts, seconds []time.Duration
	for i := range min(*first, *n) {
		site := *n - 1 - i
		time.Sleep(*gap)
		for round := range 2 {
			req := httptest.NewRequest("GET", fmt.Sprintf("http://s%d.test/hello", site), nil)
			rec := httptest.NewRecorder()
			t := time.Now()
			h.ServeHTTP(rec, req)
			d := time.Since(t)
			if rec.Code != 200 {
				log.Fatalf("site %d: %d %s", site, rec.Code, rec.Body.String())
			}
			if round == 0 {
				firsts = append(firsts, d)
			} else {
				seconds = append(seconds, d)
			}
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	rssUsed := rss("VmRSS")
	idleOut := ""
	if *idle > 0 {
		// The reaper closes instances within 1.25 idle_timeouts of their
		// last request, a lazy app unloads up to half an idle_timeout later.
		if *idleWait == 0 {
			*idleWait = 2**idle + time.Second
		}
		time.Sleep(*idleWait)
		// wazero unmaps a closed module's machine code in a finalizer:
		// one collection to run them, one more to free what they held.
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		idleOut = fmt.Sprintf(" rss_idle_mib=%.0f go_heap_idle_mib=%.0f", mib(rss("VmRSS")), mib(float64(ms.HeapInuse)))
		if *smaps {
			b, _ := os.ReadFile("/proc/self/smaps")
			os.WriteFile(filepath.Join(*work, "smaps-idle"), b, 0o644)
		}
	}
	modules := "shared"
	if *distinct {
		modules = "distinct"
	}
	// Go's heap holds the decoded modules and instances' linear memories;
	// the rest of the RSS is mostly wazero's machine code (mmap).
	fmt.Printf("sites=%d modules=%s compile=%s min_instances=%d ready_ms=%.0f rss_ready_mib=%.0f go_heap_mib=%.0f peak_rss_mib=%.0f first_request_ms=%s second_request_ms=%s rss_used_mib=%.0f%s\n",
		*n, modules, compile, *minInst, ms(ready), mib(rssReady), mib(float64(ms0.HeapInuse)), mib(peakStart), spread(firsts), spread(seconds), mib(rssUsed), idleOut)
	h.Shutdown(ctx)
}

// generate writes n sites running wasm, and with distinct n copies of it,
// into work, and returns the config's path.
func generate(wasm, work, cache string, n int, distinct bool, minInst int, compile string, idle time.Duration) (string, error) {
	b, err := os.ReadFile(wasm)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", err
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "[server]\ncache_dir = %q\naccess_log = \"off\"\ncompile = %q\n", cache, compile)
	for i := range n {
		module := filepath.Join(work, "app.wasm")
		if distinct {
			module = filepath.Join(work, "app-"+strconv.Itoa(i)+".wasm")
		}
		if i == 0 || distinct {
			if err := os.WriteFile(module, withCustomSection(b, "wasgi-bench", strconv.Itoa(i)), 0o644); err != nil {
				return "", err
			}
		}
		fmt.Fprintf(&cfg, "[groups.g%d]\ninstances = %d\nmin_instances = %d\n", i, max(4, minInst), minInst)
		if idle > 0 {
			fmt.Fprintf(&cfg, "idle_timeout = %q\n", idle.String())
		}
		fmt.Fprintf(&cfg, "[[site]]\nname = \"s%d\"\nhosts = [\"s%d.test\"]\n  [[site.app]]\n  name = \"a\"\n  mount = \"/\"\n  module = %q\n  group = \"g%d\"\n", i, i, module, i)
	}
	path := filepath.Join(work, "wasgi.toml")
	return path, os.WriteFile(path, []byte(cfg.String()), 0o644)
}

// withCustomSection appends a custom section (id 0): the module's code is
// unchanged, its bytes, hash and cache key are not.
func withCustomSection(wasm []byte, name, payload string) []byte {
	var body []byte
	body = binary.AppendUvarint(body, uint64(len(name)))
	body = append(body, name...)
	body = append(body, payload...)
	out := append([]byte(nil), wasm...)
	out = append(out, 0)
	out = binary.AppendUvarint(out, uint64(len(body)))
	return append(out, body...)
}

// rss reads a VmRSS or VmHWM line of /proc/self/status, in bytes.
func rss(key string) float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(b float64) float64      { return b / (1 << 20) }

// spread is "min/median/max" in milliseconds.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	slices.Sort(ds)
	return fmt.Sprintf("%.1f/%.1f/%.1f", ms(ds[0]), ms(ds[len(ds)/2]), ms(ds[len(ds)-1]))
}
