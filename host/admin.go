package host

import (
	"bufio"
	"fmt"
	"maps"
	"net/http"
	"net/http/pprof"
	"os"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasgi/wasgi/sandbox"
)

// statusCounts counts responses by status class (1xx..5xx).
type statusCounts [6]atomic.Int64

func (c *statusCounts) add(status int) {
	if i := status / 100; i >= 1 && i <= 5 {
		c[i].Add(1)
	}
}

// durationBuckets are the latency histogram's upper bounds, in seconds.
var durationBuckets = [...]float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// histogram is a Prometheus histogram of request durations.
type histogram struct {
	counts [len(durationBuckets) + 1]atomic.Int64 // last: +Inf
	sumNS  atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(durationBuckets) && s > durationBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNS.Add(int64(d))
}

// metrics are the counters that outlive a config: each state's sites and
// groups take theirs from here by name, so a reload (SIGHUP) does not reset
// /metrics, and a site or group that comes back finds its counts.
type metrics struct {
	mu      sync.Mutex
	targets map[[2]string]*statusCounts // by site and target
	latency map[string]*histogram       // by site
	groups  map[string]*sandbox.Counters
	out     map[[2]string]*sandbox.OutboundStats // by site and app
	quota   map[[2]string]*sandbox.QuotaStats    // by site and app
	starts  map[[2]string]*atomic.Int64          // failed instance starts, by site and app
}

func newMetrics() *metrics {
	return &metrics{targets: map[[2]string]*statusCounts{}, latency: map[string]*histogram{}, groups: map[string]*sandbox.Counters{},
		out: map[[2]string]*sandbox.OutboundStats{}, quota: map[[2]string]*sandbox.QuotaStats{}, starts: map[[2]string]*atomic.Int64{}}
}

// target returns the response counts of target (an app's name, "static"
// or "-") of site.
func (m *metrics) target(site, target string) *statusCounts {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{site, target}
	if m.targets[k] == nil {
		m.targets[k] = &statusCounts{}
	}
	return m.targets[k]
}

// siteLatency returns the latency histogram of site.
func (m *metrics) siteLatency(site string) *histogram {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.latency[site] == nil {
		m.latency[site] = &histogram{}
	}
	return m.latency[site]
}

// group returns the counters of the group named name.
func (m *metrics) group(name string) *sandbox.Counters {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.groups[name] == nil {
		m.groups[name] = &sandbox.Counters{}
	}
	return m.groups[name]
}

// perApp returns the counters of app of site in tab, made on first use.
func perApp[T any](m *metrics, tab map[[2]string]*T, site, app string) *T {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{site, app}
	if tab[k] == nil {
		tab[k] = new(T)
	}
	return tab[k]
}

// outbound returns the outbound connection counters of app of site.
func (m *metrics) outbound(site, app string) *sandbox.OutboundStats {
	return perApp(m, m.out, site, app)
}

// quotaStats returns the disk quota counters of app of site.
func (m *metrics) quotaStats(site, app string) *sandbox.QuotaStats {
	return perApp(m, m.quota, site, app)
}

// startFailures returns the failed-start counter of app of site.
func (m *metrics) startFailures(site, app string) *atomic.Int64 {
	return perApp(m, m.starts, site, app)
}

// adminHandler serves the admin listener: never the public one.
//
//	/healthz  200 while the process runs
//	/readyz   200 once the config is loaded and min_instances are warm; 503
//	          while draining, or while a public listener fails to accept
//	          (naming the error); apps failing to start are listed
//	          after "ready"
//	/metrics  Prometheus text format
//	/status   the status page (status.go); /status.json its JSON twin
//	/debug/pprof/  Go's profiles of the host (heap, CPU, goroutines), as
//	          net/http/pprof serves them: what docs/PERFORMANCE.md asks
//	          for before any optimisation, on the process in production
func (h *Host) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if h.draining.Load() || h.state.Load() == nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready")
			return
		}
		if err := h.accepts.problem(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ready")
		// An app that fails to start is one site down, not the host: the
		// others still serve, so the answer stays 200 (a 503 would take
		// every site out of the load balancer). It is named here, and in
		// wasgi_app_failed.
		for _, a := range h.state.Load().apps {
			if p := a.currentPool(); p != nil {
				if f, ok := p.StartFailure(); ok {
					fmt.Fprintf(w, "app %s/%s fails to start since %s (%d failures, next try in %s): %s\n", a.site, a.name,
						f.Since.UTC().Format(time.RFC3339), f.Failures, max(0, time.Until(f.RetryAt)).Round(time.Second), firstLine(f.Err.Err.Error()))
				}
			}
		}
	})
	mux.HandleFunc("GET /metrics", h.metrics)
	mux.HandleFunc("GET /status", h.serveStatus)
	mux.HandleFunc("GET /status.json", h.serveStatus)
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// metrics writes the counters in the Prometheus text exposition format
// (version 0.0.4). A small writer rather than client_golang: the metrics
// are a handful of counters and gauges the host already keeps.
func (h *Host) metrics(w http.ResponseWriter, r *http.Request) {
	s := h.state.Load()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	defer bw.Flush()

	fmt.Fprintln(bw, "# HELP wasgi_requests_total Responses by site, target (app name, \"static\" or \"-\") and status class.")
	fmt.Fprintln(bw, "# TYPE wasgi_requests_total counter")
	for _, st := range s.sites {
		for _, target := range slices.Sorted(maps.Keys(st.counts)) {
			c := st.counts[target]
			for class := 1; class <= 5; class++ {
				if n := c[class].Load(); n > 0 {
					fmt.Fprintf(bw, "wasgi_requests_total{site=%s,target=%s,code=\"%dxx\"} %d\n", label(st.name), label(target), class, n)
				}
			}
		}
	}
	fmt.Fprintln(bw, "# HELP wasgi_request_duration_seconds Time from request to the end of the response, by site.")
	fmt.Fprintln(bw, "# TYPE wasgi_request_duration_seconds histogram")
	for _, st := range s.sites {
		var cum int64
		for i, le := range durationBuckets {
			cum += st.latency.counts[i].Load()
			fmt.Fprintf(bw, "wasgi_request_duration_seconds_bucket{site=%s,le=\"%g\"} %d\n", label(st.name), le, cum)
		}
		cum += st.latency.counts[len(durationBuckets)].Load()
		fmt.Fprintf(bw, "wasgi_request_duration_seconds_bucket{site=%s,le=\"+Inf\"} %d\n", label(st.name), cum)
		fmt.Fprintf(bw, "wasgi_request_duration_seconds_sum{site=%s} %g\n", label(st.name), time.Duration(st.latency.sumNS.Load()).Seconds())
		fmt.Fprintf(bw, "wasgi_request_duration_seconds_count{site=%s} %d\n", label(st.name), cum)
	}
	type outMetric struct {
		name, help, typ string
		value           func(o *sandbox.OutboundStats) int64
	}
	var outApps []*app
	for _, a := range s.apps {
		if a.outbound != nil {
			outApps = append(outApps, a)
		}
	}
	for _, m := range []outMetric{
		{"wasgi_outbound_connections_total", "Outbound connections opened by the app's guests.", "counter", func(o *sandbox.OutboundStats) int64 { return o.Opened.Load() }},
		{"wasgi_outbound_refused_total", "Outbound connections refused: not listed, a refused address, or over a limit.", "counter", func(o *sandbox.OutboundStats) int64 { return o.Refused.Load() }},
		{"wasgi_outbound_failed_total", "Outbound connections allowed but not made (unreachable, timeout, TLS).", "counter", func(o *sandbox.OutboundStats) int64 { return o.Failed.Load() }},
		{"wasgi_outbound_connections_open", "Outbound connections open now.", "gauge", func(o *sandbox.OutboundStats) int64 { return o.Active.Load() }},
		{"wasgi_outbound_received_bytes_total", "Bytes the app's guests read from outbound connections.", "counter", func(o *sandbox.OutboundStats) int64 { return o.BytesIn.Load() }},
		{"wasgi_outbound_sent_bytes_total", "Bytes the app's guests wrote to outbound connections.", "counter", func(o *sandbox.OutboundStats) int64 { return o.BytesOut.Load() }},
	} {
		if len(outApps) == 0 {
			break
		}
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
		for _, a := range outApps {
			fmt.Fprintf(bw, "%s{site=%s,app=%s} %d\n", m.name, label(a.site), label(a.name), m.value(a.outbound))
		}
	}
	// Per-app series, for the apps that have the counter: a header only
	// when one does.
	perAppSeries := func(name, help, typ string, value func(a *app) (int64, bool)) {
		header := false
		for _, a := range s.apps {
			v, ok := value(a)
			if !ok {
				continue
			}
			if !header {
				header = true
				fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
			}
			fmt.Fprintf(bw, "%s{site=%s,app=%s} %d\n", name, label(a.site), label(a.name), v)
		}
	}
	perAppSeries("wasgi_disk_quota_exceeded_total", "Guest writes and creations refused at an rw dir's quota (ENOSPC, EDQUOT).", "counter",
		func(a *app) (int64, bool) {
			if a.quota == nil {
				return 0, false
			}
			return a.quota.Exceeded.Load(), true
		})
	perAppSeries("wasgi_app_failed", "1 while the app's instances fail to start (requests needing a new one get 503), else 0.", "gauge",
		func(a *app) (int64, bool) {
			if a.startFailures == nil {
				return 0, false
			}
			if p := a.currentPool(); p != nil {
				if _, failing := p.StartFailure(); failing {
					return 1, true
				}
			}
			return 0, true
		})
	perAppSeries("wasgi_app_start_failures_total", "Instance starts that failed (_initialize trapped, a Python import raised).", "counter",
		func(a *app) (int64, bool) {
			if a.startFailures == nil {
				return 0, false
			}
			return a.startFailures.Load(), true
		})
	type metric struct {
		name, help, typ string
		value           func(st groupStats) int64
	}
	ms := []metric{
		{"wasgi_group_instances_in_use", "Instances serving a request.", "gauge", func(g groupStats) int64 { return g.InUse }},
		{"wasgi_group_instances_idle", "Instances alive and idle.", "gauge", func(g groupStats) int64 { return g.Idle }},
		{"wasgi_group_queued", "Requests waiting for a free instance.", "gauge", func(g groupStats) int64 { return g.Queued }},
		{"wasgi_group_instances_starting", "Instances being created (counted in wasgi_group_instances_in_use too).", "gauge", func(g groupStats) int64 { return g.Starting }},
		{"wasgi_group_calls_total", "Guest calls (requests and auth checks).", "counter", func(g groupStats) int64 { return g.Served }},
		{"wasgi_group_instances_created_total", "Instances created.", "counter", func(g groupStats) int64 { return g.Created }},
		{"wasgi_group_instances_recycled_total", "Instances closed after max_requests.", "counter", func(g groupStats) int64 { return g.Recycled }},
		{"wasgi_group_traps_total", "Guest calls that trapped (instance discarded).", "counter", func(g groupStats) int64 { return g.Trapped }},
		{"wasgi_group_timeouts_total", "Guest calls stopped at request_timeout.", "counter", func(g groupStats) int64 { return g.TimedOut }},
		{"wasgi_group_queue_timeouts_total", "Requests refused after queue_timeout (503).", "counter", func(g groupStats) int64 { return g.Refused }},
	}
	fmt.Fprintln(bw, "# HELP wasgi_tls_certificate_expiry_seconds When each name's certificate expires (NotAfter), in Unix seconds.")
	fmt.Fprintln(bw, "# TYPE wasgi_tls_certificate_expiry_seconds gauge")
	printed := map[string]bool{}
	for name, at := range s.certs.expiries() {
		printed[name] = true
		fmt.Fprintf(bw, "wasgi_tls_certificate_expiry_seconds{name=%s} %d\n", label(name), at)
	}
	acme := h.acme.Load()
	if acme != nil {
		acme.expiries(func(name string, at int64) {
			if !printed[name] {
				fmt.Fprintf(bw, "wasgi_tls_certificate_expiry_seconds{name=%s} %d\n", label(name), at)
			}
		})
	}
	fmt.Fprintln(bw, "# HELP wasgi_acme_failures_total Attempts to obtain or renew a certificate by ACME that failed.")
	fmt.Fprintln(bw, "# TYPE wasgi_acme_failures_total counter")
	fmt.Fprintf(bw, "wasgi_acme_failures_total %d\n", h.acmeFailures.Load())
	fmt.Fprintln(bw, "# HELP wasgi_auth_failures_total Password checks that failed (wrong password or unknown user).")
	fmt.Fprintln(bw, "# TYPE wasgi_auth_failures_total counter")
	fmt.Fprintf(bw, "wasgi_auth_failures_total %d\n", h.authLimit.failed.Load())
	fmt.Fprintln(bw, "# HELP wasgi_auth_limited_total Password checks refused with 429 after too many failures (auth_max_failures).")
	fmt.Fprintln(bw, "# TYPE wasgi_auth_limited_total counter")
	fmt.Fprintf(bw, "wasgi_auth_limited_total %d\n", h.authLimit.limited.Load())
	cs := h.rt.CompileStats()
	fmt.Fprintln(bw, "# HELP wasgi_modules_compiled_total Modules compiled (from wazero's on-disk cache or from scratch).")
	fmt.Fprintln(bw, "# TYPE wasgi_modules_compiled_total counter")
	fmt.Fprintf(bw, "wasgi_modules_compiled_total %d\n", cs.Compiled)
	fmt.Fprintln(bw, "# HELP wasgi_modules_reused_total Module loads answered by a module already in memory (same bytes, e.g. on reload).")
	fmt.Fprintln(bw, "# TYPE wasgi_modules_reused_total counter")
	fmt.Fprintf(bw, "wasgi_modules_reused_total %d\n", cs.Reused)
	fmt.Fprintln(bw, "# HELP wasgi_module_compile_seconds_total Time spent compiling modules.")
	fmt.Fprintln(bw, "# TYPE wasgi_module_compile_seconds_total counter")
	fmt.Fprintf(bw, "wasgi_module_compile_seconds_total %g\n", cs.Time.Seconds())
	fmt.Fprintln(bw, "# HELP wasgi_accept_errors_total Accepts that failed on the public listeners (e.g. out of descriptors).")
	fmt.Fprintln(bw, "# TYPE wasgi_accept_errors_total counter")
	fmt.Fprintf(bw, "wasgi_accept_errors_total %d\n", h.accepts.total.Load())
	fmt.Fprintln(bw, "# HELP wasgi_memory_bytes Where the host's memory goes: rss (the process, Linux), machine_code (compiled modules, resident), linear_memory (live instances' memories as far as grown; of one started from a snapshot, the pages it wrote), snapshot_memory (the snapshots instances share, Linux), spare_memory (kept faulted in for new instances), go_heap (the host's Go objects, live and not yet collected), go_heap_free (heap kept from the OS for reuse).")
	fmt.Fprintln(bw, "# TYPE wasgi_memory_bytes gauge")
	for _, m := range h.memory() {
		fmt.Fprintf(bw, "wasgi_memory_bytes{kind=%q} %d\n", m.kind, m.bytes)
	}
	fmt.Fprintln(bw, "# HELP wasgi_modules_loaded Compiled modules in memory.")
	fmt.Fprintln(bw, "# TYPE wasgi_modules_loaded gauge")
	fmt.Fprintf(bw, "wasgi_modules_loaded %d\n", cs.Loaded)
	names := slices.Sorted(maps.Keys(s.groups))
	stats := make([]groupStats, len(names))
	for i, n := range names {
		stats[i] = groupStats(s.groups[n].Stats())
	}
	for _, m := range ms {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
		for i, n := range names {
			fmt.Fprintf(bw, "%s{group=%s} %d\n", m.name, label(n), m.value(stats[i]))
		}
	}
}

// memoryUse is one kind of wasgi_memory_bytes.
type memoryUse struct {
	kind  string
	bytes uint64
}

// memory says where the host's memory goes (wasgi_memory_bytes, the
// status page): the table of docs/PERFORMANCE.md, live.
func (h *Host) memory() []memoryUse {
	ms := h.rt.MemoryStats()
	samples := []rtmetrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	rtmetrics.Read(samples)
	val := func(i int) uint64 {
		if samples[i].Value.Kind() == rtmetrics.KindUint64 {
			return samples[i].Value.Uint64()
		}
		return 0
	}
	out := []memoryUse{
		{"machine_code", ms.Code}, {"linear_memory", ms.Linear}, {"snapshot_memory", ms.Snapshots}, {"spare_memory", ms.Spares},
		{"go_heap", val(0) + val(1)}, {"go_heap_free", val(2)},
	}
	if rss := processRSS(); rss > 0 {
		out = append([]memoryUse{{"rss", rss}}, out...)
	}
	return out
}

// processRSS is the process's resident set (VmRSS), or 0 where
// /proc/self/status does not say.
func processRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// label quotes a Prometheus label value.
func label(v string) string {
	return strconv.Quote(strings.ToValidUTF8(v, "\uFFFD"))
}
