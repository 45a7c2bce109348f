package host

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wasgi/wasgi/sites"
)

// The status page: the admin listener's /status (HTML) and /status.json,
// Apache's server-status made to be looked at. Its numbers come from the
// counters /metrics prints; what /metrics leaves to Prometheus (rates,
// percentiles, the last minutes) comes from a recorder that snapshots
// those counters every statusStep, so the request path does no more work
// than it did for /metrics.

const (
	// statusStep is the recorder's tick: one point of each chart.
	statusStep = 10 * time.Second
	// statusPoints is how many snapshots the recorder keeps: 15 minutes.
	statusPoints = 91
	// statusRecent is the span of the "last minute" numbers.
	statusRecent = time.Minute
	// statusRefresh is how often the page reloads itself (meta refresh).
	statusRefresh = 5
	// statusReloads is how many reloads the page lists.
	statusReloads = 10
	// maxReloadError bounds the error text kept of a refused reload.
	maxReloadError = 8 << 10
)

// siteTotals are a site's counters at one snapshot.
type siteTotals struct {
	classes [6]int64                        // responses by status class, 1..5
	latency [len(durationBuckets) + 1]int64 // the duration histogram's buckets, not cumulative
}

func (t *siteTotals) requests() int64 {
	var n int64
	for _, c := range t.classes {
		n += c
	}
	return n
}

// snapshot is every site's and group's counters at one moment.
type snapshot struct {
	at     time.Time
	sites  map[string]*siteTotals
	groups map[string]groupStats
}

// statusRecorder keeps the last statusPoints snapshots, taken every step
// by its own goroutine (from Listen, with an admin listener, to Shutdown).
type statusRecorder struct {
	step time.Duration
	take func() *snapshot
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	snaps []*snapshot // oldest first
}

func newStatusRecorder(step time.Duration, take func() *snapshot) *statusRecorder {
	r := &statusRecorder{step: step, take: take, stop: make(chan struct{}), done: make(chan struct{})}
	r.snaps = []*snapshot{take()}
	go r.run()
	return r
}

func (r *statusRecorder) run() {
	defer close(r.done)
	t := time.NewTicker(r.step)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			s := r.take()
			r.mu.Lock()
			if len(r.snaps) == statusPoints {
				r.snaps = append(r.snaps[:0], r.snaps[1:]...)
			}
			r.snaps = append(r.snaps, s)
			r.mu.Unlock()
		}
	}
}

// close stops the recorder's goroutine and waits for it.
func (r *statusRecorder) close() {
	close(r.stop)
	<-r.done
}

// snapshots returns the snapshots taken so far, oldest first.
func (r *statusRecorder) snapshots() []*snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.snaps)
}

// snapshotOf reads the counters of s's sites and groups.
func snapshotOf(s *state, now time.Time) *snapshot {
	snap := &snapshot{at: now, sites: make(map[string]*siteTotals, len(s.sites)), groups: make(map[string]groupStats, len(s.groups))}
	for _, st := range s.sites {
		t := &siteTotals{}
		for _, c := range st.counts {
			for i := range c {
				t.classes[i] += c[i].Load()
			}
		}
		for i := range st.latency.counts {
			t.latency[i] = st.latency.counts[i].Load()
		}
		snap.sites[st.name] = t
	}
	for name, g := range s.groups {
		snap.groups[name] = groupStats(g.Stats())
	}
	return snap
}

// reloadRecord is one reload, accepted or refused, for the status page.
type reloadRecord struct {
	At       time.Time
	Duration time.Duration
	Err      string // "" when accepted
	Sites    int    // the sites of the config serving afterwards
}

// reloadLog keeps the last statusReloads reloads.
type reloadLog struct {
	mu   sync.Mutex
	last []reloadRecord // oldest first
}

func (l *reloadLog) add(r reloadRecord) {
	if len(r.Err) > maxReloadError {
		r.Err = strings.ToValidUTF8(r.Err[:maxReloadError], "") + "…"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.last) == statusReloads {
		l.last = append(l.last[:0], l.last[1:]...)
	}
	l.last = append(l.last, r)
}

func (l *reloadLog) list() []reloadRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.last)
}

// ReloadFailed records a reload refused before Reload could run (the
// config file did not load), so that the status page lists it beside the
// reloads Reload records itself.
func (h *Host) ReloadFailed(err error) {
	s := h.state.Load()
	h.reloads.add(reloadRecord{At: time.Now(), Err: err.Error(), Sites: len(s.sites)})
}

// The status report: what /status.json answers and /status shows. Field
// names are part of the admin API (docs/operations.md, "Status page").

// StatusReport is the document /status.json answers.
type StatusReport struct {
	Version       string          `json:"version"`
	Go            string          `json:"go"`
	Now           time.Time       `json:"now"`
	Started       time.Time       `json:"started"`
	UptimeSeconds float64         `json:"uptime_seconds"`
	Ready         bool            `json:"ready"`
	Draining      bool            `json:"draining"`
	Problem       string          `json:"problem"` // why not ready; "" when ready
	StepSeconds   float64         `json:"step_seconds"`
	WindowSeconds float64         `json:"window_seconds"` // the span of the history kept so far
	Sites         []StatusSite    `json:"sites"`
	Groups        []StatusGroup   `json:"groups"`
	FailingApps   []string        `json:"failing_apps"` // "site/app" of apps failing to start
	Reloads       []StatusReload  `json:"reloads"`      // newest first
	Compile       StatusCompile   `json:"compile"`
	Certificates  []StatusCert    `json:"certificates"`
	Counters      StatusHostTotal `json:"counters"`
}

// StatusSite is one site of the config serving now.
type StatusSite struct {
	Name       string         `json:"name"`
	Hosts      []string       `json:"hosts"`
	Requests   StatusClasses  `json:"requests"`    // since the process started
	LastMinute StatusSpan     `json:"last_minute"` // the last minute (less just after a start)
	Window     StatusSpan     `json:"window"`      // the whole history kept
	History    []*StatusPoint `json:"history"`     // one per step, oldest first; null where the site had no counters yet
	Apps       []StatusApp    `json:"apps"`
}

// StatusClasses counts responses by status class.
type StatusClasses struct {
	Total int64 `json:"total"`
	C1xx  int64 `json:"1xx"`
	C2xx  int64 `json:"2xx"`
	C3xx  int64 `json:"3xx"`
	C4xx  int64 `json:"4xx"`
	C5xx  int64 `json:"5xx"`
}

// StatusSpan is a site's requests over a span of time ending now.
type StatusSpan struct {
	Seconds   float64  `json:"seconds"`
	Requests  int64    `json:"requests"`
	PerSecond float64  `json:"per_second"`
	P50ms     *float64 `json:"p50_ms"` // estimated from the histogram's buckets; null without requests
	P99ms     *float64 `json:"p99_ms"`
	C4xx      int64    `json:"4xx"`
	C5xx      int64    `json:"5xx"`
}

// StatusPoint is one step of a site's history.
type StatusPoint struct {
	T         int64    `json:"t"` // the step's end, Unix seconds
	Requests  int64    `json:"requests"`
	PerSecond float64  `json:"per_second"`
	P50ms     *float64 `json:"p50_ms"`
	P99ms     *float64 `json:"p99_ms"`
	C4xx      int64    `json:"4xx"`
	C5xx      int64    `json:"5xx"`
}

// StatusApp is one app of a site.
type StatusApp struct {
	Name          string          `json:"name"`
	Mount         string          `json:"mount"`
	Group         string          `json:"group"`
	Kind          string          `json:"kind"`  // "wasgi", "cgi" or "python"
	State         string          `json:"state"` // "ok", "failing" (instances fail to start) or "lazy" (not compiled yet)
	Failing       *StatusFailing  `json:"failing"`
	StartFailures int64           `json:"start_failures"`
	QuotaExceeded *int64          `json:"quota_exceeded"` // null without a quota
	Outbound      *StatusOutbound `json:"outbound"`       // null without an outbound list
}

// StatusFailing describes an app whose instances fail to start.
type StatusFailing struct {
	Since    time.Time `json:"since"`
	Failures int64     `json:"failures"`
	RetryAt  time.Time `json:"retry_at"`
	Error    string    `json:"error"`
}

// StatusOutbound are an app's outbound connection counters.
type StatusOutbound struct {
	Opened   int64 `json:"opened"`
	Refused  int64 `json:"refused"`
	Failed   int64 `json:"failed"`
	Open     int64 `json:"open"`
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
}

// StatusGroup is one group of the config serving now.
type StatusGroup struct {
	Name         string             `json:"name"`
	Private      bool               `json:"private"`
	Instances    int                `json:"instances"` // capacity
	MinInstances int                `json:"min_instances"`
	Busy         int64              `json:"busy"`     // serving a call
	Starting     int64              `json:"starting"` // being created
	Idle         int64              `json:"idle"`
	Queued       int64              `json:"queued"`
	Totals       StatusGroupTotals  `json:"totals"`
	LastMinute   StatusGroupTotals  `json:"last_minute"`
	Window       StatusGroupTotals  `json:"window"`
	History      []*StatusGroupStep `json:"history"`
	Apps         []string           `json:"apps"` // "site/app"
}

// StatusGroupTotals are a group's counters, since the start or over a span.
type StatusGroupTotals struct {
	Seconds       float64 `json:"seconds"`    // the span; 0 for totals
	Calls         int64   `json:"calls"`      // guest calls: requests, auth checks, CGI runs
	PerSecond     float64 `json:"per_second"` // calls per second over the span; 0 for totals
	Created       int64   `json:"created"`
	Recycled      int64   `json:"recycled"`
	Traps         int64   `json:"traps"`
	Timeouts      int64   `json:"timeouts"`
	QueueTimeouts int64   `json:"queue_timeouts"` // 503 after queue_timeout
}

// StatusGroupStep is one step of a group's history: counts over the step,
// gauges at its end.
type StatusGroupStep struct {
	T             int64   `json:"t"`
	Calls         int64   `json:"calls"`
	PerSecond     float64 `json:"per_second"`
	Traps         int64   `json:"traps"`
	Timeouts      int64   `json:"timeouts"`
	QueueTimeouts int64   `json:"queue_timeouts"`
	InUse         int64   `json:"in_use"`
	Queued        int64   `json:"queued"`
}

// StatusReload is one reload.
type StatusReload struct {
	Time       time.Time `json:"time"`
	OK         bool      `json:"ok"`
	Error      string    `json:"error"`
	Sites      int       `json:"sites"`
	DurationMS float64   `json:"duration_ms"`
}

// StatusCompile is the compile cache.
type StatusCompile struct {
	CacheDir string  `json:"cache_dir"`
	Compiled int64   `json:"compiled"`
	Reused   int64   `json:"reused"`
	Seconds  float64 `json:"seconds"`
	Loaded   int     `json:"loaded"`
}

// StatusCert is when one DNS name's certificate expires.
type StatusCert struct {
	Name    string    `json:"name"`
	Expires time.Time `json:"expires"`
}

// StatusHostTotal are the host's own counters.
type StatusHostTotal struct {
	AcceptErrors int64 `json:"accept_errors"`
	AuthFailures int64 `json:"auth_failures"`
	AuthLimited  int64 `json:"auth_limited"`
	ACMEFailures int64 `json:"acme_failures"`
}

// statusReport gathers the report from the config serving now and the
// recorder's snapshots.
func (h *Host) statusReport(now time.Time) *StatusReport {
	s := h.state.Load()
	rep := &StatusReport{
		Version: Version, Go: runtime.Version(), Now: now.UTC(), Started: h.started.UTC(),
		UptimeSeconds: round(now.Sub(h.started).Seconds(), 1), Draining: h.draining.Load(),
		StepSeconds: statusStep.Seconds(),
		Sites:       []StatusSite{}, Groups: []StatusGroup{}, FailingApps: []string{}, Reloads: []StatusReload{}, Certificates: []StatusCert{},
	}
	switch err := h.accepts.problem(); {
	case rep.Draining:
		rep.Problem = "draining"
	case err != nil:
		rep.Problem = err.Error()
	default:
		rep.Ready = true
	}
	var snaps []*snapshot
	if h.status != nil {
		snaps = h.status.snapshots()
		rep.StepSeconds = h.status.step.Seconds()
	}
	cur := snapshotOf(s, now)
	snaps = append(snaps, cur) // the last point of every span is now
	rep.WindowSeconds = round(now.Sub(snaps[0].at).Seconds(), 1)
	recent := snaps[0]
	for _, sn := range snaps {
		if now.Sub(sn.at) >= statusRecent {
			recent = sn
		}
	}

	configs := make(map[string]*sites.Site, len(s.cfg.Sites))
	for _, sc := range s.cfg.Sites {
		configs[sc.Name] = sc
	}
	groupApps := map[string][]string{}
	for _, st := range s.sites {
		t, sc := cur.sites[st.name], configs[st.name]
		ss := StatusSite{Name: st.name, Hosts: sc.Hosts, Apps: []StatusApp{}, History: []*StatusPoint{}}
		ss.Requests = StatusClasses{Total: t.requests(), C1xx: t.classes[1], C2xx: t.classes[2], C3xx: t.classes[3], C4xx: t.classes[4], C5xx: t.classes[5]}
		has := func(sn *snapshot) bool { return sn.sites[st.name] != nil }
		from := first(snaps, recent, has)
		ss.LastMinute = siteSpan(from.sites[st.name], t, now.Sub(from.at))
		from = first(snaps, snaps[0], has)
		ss.Window = siteSpan(from.sites[st.name], t, now.Sub(from.at))
		for i := 1; i < len(snaps)-1; i++ { // whole steps only: the last one is still running
			a, b := snaps[i-1].sites[st.name], snaps[i].sites[st.name]
			if a == nil || b == nil {
				ss.History = append(ss.History, nil)
				continue
			}
			sp := siteSpan(a, b, snaps[i].at.Sub(snaps[i-1].at))
			ss.History = append(ss.History, &StatusPoint{T: snaps[i].at.Unix(), Requests: sp.Requests, PerSecond: sp.PerSecond, P50ms: sp.P50ms, P99ms: sp.P99ms, C4xx: sp.C4xx, C5xx: sp.C5xx})
		}
		for _, ac := range sc.Apps { // in the file's order
			a := st.apps[ac.Name]
			sa := statusApp(ac, a)
			if sa.Failing != nil {
				rep.FailingApps = append(rep.FailingApps, a.site+"/"+a.name)
			}
			ss.Apps = append(ss.Apps, sa)
			groupApps[sa.Group] = append(groupApps[sa.Group], a.site+"/"+a.name)
		}
		rep.Sites = append(rep.Sites, ss)
	}
	for _, name := range slices.Sorted(maps.Keys(s.groups)) {
		gc := s.cfg.Groups[name]
		g := cur.groups[name]
		sg := StatusGroup{Name: name, Busy: max(g.InUse-g.Starting, 0), Starting: g.Starting, Idle: g.Idle, Queued: g.Queued,
			Totals: StatusGroupTotals{Calls: g.Served, Created: g.Created, Recycled: g.Recycled, Traps: g.Trapped, Timeouts: g.TimedOut, QueueTimeouts: g.Refused},
			Apps:   groupApps[name], History: []*StatusGroupStep{}}
		if sg.Apps == nil {
			sg.Apps = []string{}
		}
		if gc != nil {
			sg.Private, sg.Instances, sg.MinInstances = gc.Private, gc.Instances, gc.MinInstances
		}
		has := func(sn *snapshot) bool { _, ok := sn.groups[name]; return ok }
		from := first(snaps, recent, has)
		sg.LastMinute = groupSpan(from.groups[name], g, now.Sub(from.at))
		from = first(snaps, snaps[0], has)
		sg.Window = groupSpan(from.groups[name], g, now.Sub(from.at))
		for i := 1; i < len(snaps)-1; i++ {
			a, aok := snaps[i-1].groups[name]
			b, bok := snaps[i].groups[name]
			if !aok || !bok {
				sg.History = append(sg.History, nil)
				continue
			}
			sp := groupSpan(a, b, snaps[i].at.Sub(snaps[i-1].at))
			sg.History = append(sg.History, &StatusGroupStep{T: snaps[i].at.Unix(), Calls: sp.Calls, PerSecond: sp.PerSecond,
				Traps: sp.Traps, Timeouts: sp.Timeouts, QueueTimeouts: sp.QueueTimeouts, InUse: b.InUse, Queued: b.Queued})
		}
		rep.Groups = append(rep.Groups, sg)
	}
	recs := h.reloads.list()
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		rep.Reloads = append(rep.Reloads, StatusReload{Time: r.At.UTC(), OK: r.Err == "", Error: r.Err, Sites: r.Sites, DurationMS: round(float64(r.Duration)/1e6, 1)})
	}
	cs := h.rt.CompileStats()
	rep.Compile = StatusCompile{CacheDir: s.cfg.Server.CacheDir, Compiled: cs.Compiled, Reused: cs.Reused, Seconds: round(cs.Time.Seconds(), 3), Loaded: cs.Loaded}
	expires := map[string]int64{}
	for name, at := range s.certs.expiries() {
		expires[name] = at
	}
	if m := h.acme.Load(); m != nil {
		m.expiries(func(name string, at int64) {
			if _, ok := expires[name]; !ok {
				expires[name] = at
			}
		})
	}
	for _, name := range slices.Sorted(maps.Keys(expires)) {
		rep.Certificates = append(rep.Certificates, StatusCert{Name: name, Expires: time.Unix(expires[name], 0).UTC()})
	}
	rep.Counters = StatusHostTotal{AcceptErrors: h.accepts.total.Load(), AuthFailures: h.authLimit.failed.Load(), AuthLimited: h.authLimit.limited.Load(), ACMEFailures: h.acmeFailures.Load()}
	return rep
}

// first returns from, or when pred does not hold for it, the first later
// snapshot for which it does (a site added by a reload has no counters in
// the snapshots before it; counting from zero would count its past).
func first(snaps []*snapshot, from *snapshot, pred func(*snapshot) bool) *snapshot {
	i := slices.Index(snaps, from)
	for ; i < len(snaps)-1 && !pred(snaps[i]); i++ {
	}
	return snaps[i]
}

// statusApp describes app a, configured as ac.
func statusApp(ac *sites.App, a *app) StatusApp {
	sa := StatusApp{Name: a.name, Mount: ac.Mount, Group: ac.Group, Kind: "wasgi", State: "ok"}
	switch {
	case a.python:
		sa.Kind = "python"
	case a.cgi != nil:
		sa.Kind = "cgi"
	}
	p := a.currentPool()
	if p == nil && a.lazy != nil {
		sa.State = "lazy"
	}
	if p != nil {
		if f, ok := p.StartFailure(); ok {
			sa.State = "failing"
			sa.Failing = &StatusFailing{Since: f.Since.UTC(), Failures: f.Failures, RetryAt: f.RetryAt.UTC(), Error: f.Err.Err.Error()}
		}
	}
	if a.startFailures != nil {
		sa.StartFailures = a.startFailures.Load()
	}
	if a.quota != nil {
		n := a.quota.Exceeded.Load()
		sa.QuotaExceeded = &n
	}
	if o := a.outbound; o != nil {
		sa.Outbound = &StatusOutbound{Opened: o.Opened.Load(), Refused: o.Refused.Load(), Failed: o.Failed.Load(), Open: o.Active.Load(), BytesIn: o.BytesIn.Load(), BytesOut: o.BytesOut.Load()}
	}
	return sa
}

// siteSpan is what a site served between two snapshots of it, d apart.
func siteSpan(a, b *siteTotals, d time.Duration) StatusSpan {
	sp := StatusSpan{Seconds: round(d.Seconds(), 1)}
	if a == nil || b == nil {
		return sp
	}
	var hist [len(durationBuckets) + 1]int64
	for i := range hist {
		hist[i] = max(b.latency[i]-a.latency[i], 0)
	}
	sp.Requests = max(b.requests()-a.requests(), 0)
	sp.C4xx, sp.C5xx = max(b.classes[4]-a.classes[4], 0), max(b.classes[5]-a.classes[5], 0)
	if d > 0 {
		sp.PerSecond = round(float64(sp.Requests)/d.Seconds(), 3)
	}
	sp.P50ms, sp.P99ms = quantileMS(hist, 0.5), quantileMS(hist, 0.99)
	return sp
}

// groupSpan is what a group did between two snapshots of it, d apart.
func groupSpan(a, b groupStats, d time.Duration) StatusGroupTotals {
	sp := StatusGroupTotals{Seconds: round(d.Seconds(), 1), Calls: max(b.Served-a.Served, 0), Created: max(b.Created-a.Created, 0),
		Recycled: max(b.Recycled-a.Recycled, 0), Traps: max(b.Trapped-a.Trapped, 0), Timeouts: max(b.TimedOut-a.TimedOut, 0),
		QueueTimeouts: max(b.Refused-a.Refused, 0)}
	if d > 0 {
		sp.PerSecond = round(float64(sp.Calls)/d.Seconds(), 3)
	}
	return sp
}

// quantileMS estimates the q-quantile of a duration histogram (bucket
// counts, not cumulative), in milliseconds, as Prometheus's
// histogram_quantile does: linear within the bucket holding it, and the
// highest finite bound for the +Inf bucket. nil without observations.
func quantileMS(counts [len(durationBuckets) + 1]int64, q float64) *float64 {
	var total int64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return nil
	}
	rank := q * float64(total)
	var cum int64
	for i, c := range counts {
		if float64(cum+c) < rank || c == 0 {
			cum += c
			continue
		}
		var v float64
		if i == len(durationBuckets) {
			v = durationBuckets[len(durationBuckets)-1]
		} else {
			lo := 0.0
			if i > 0 {
				lo = durationBuckets[i-1]
			}
			v = lo + (durationBuckets[i]-lo)*(rank-float64(cum))/float64(c)
		}
		ms := round(v*1000, 3)
		return &ms
	}
	ms := durationBuckets[len(durationBuckets)-1] * 1000
	return &ms
}

// round rounds x to n decimals, for tidy JSON.
func round(x float64, n int) float64 {
	p := math.Pow10(n)
	return math.Round(x*p) / p
}

// statusCSP allows the page nothing but its own inline styles: no script,
// no request of its own (the charts are inline SVG).
const statusCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// status serves /status (HTML) and /status.json (or /status?format=json).
func (h *Host) serveStatus(w http.ResponseWriter, r *http.Request) {
	rep := h.statusReport(time.Now())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path == "/status.json" || r.URL.Query().Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		if err := enc.Encode(rep); err != nil {
			h.log.Debug().Err(err).Msg("status: writing the answer")
		}
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", statusCSP)
	w.Header().Set("Referrer-Policy", "no-referrer")
	if err := statusTemplate.Execute(w, statusPage{rep, statusRefresh}); err != nil {
		h.log.Debug().Err(err).Msg("status: writing the page")
	}
}

// statusPage is what the template sees.
type statusPage struct {
	*StatusReport
	Refresh int
}

// TotalPerSecond is every site's rate over the last minute.
func (p statusPage) TotalPerSecond() float64 {
	var v float64
	for _, s := range p.Sites {
		v += s.LastMinute.PerSecond
	}
	return v
}

// Errors5xx is every site's 5xx over the last minute.
func (p statusPage) Errors5xx() int64 {
	var n int64
	for _, s := range p.Sites {
		n += s.LastMinute.C5xx
	}
	return n
}

// Instances sums every group's gauges: busy, starting, idle, capacity.
func (p statusPage) Instances() [4]int64 {
	var v [4]int64
	for _, g := range p.Groups {
		v[0] += g.Busy
		v[1] += g.Starting
		v[2] += g.Idle
		v[3] += int64(g.Instances)
	}
	return v
}

// Outbound lists the apps with an outbound list.
func (p statusPage) Outbound() []statusAppRow {
	var rows []statusAppRow
	for _, s := range p.Sites {
		for _, a := range s.Apps {
			if a.Outbound != nil {
				rows = append(rows, statusAppRow{s.Name, a})
			}
		}
	}
	return rows
}

// AppRows lists every app with its site.
func (p statusPage) AppRows() []statusAppRow {
	var rows []statusAppRow
	for _, s := range p.Sites {
		for _, a := range s.Apps {
			rows = append(rows, statusAppRow{s.Name, a})
		}
	}
	return rows
}

// FailingRows lists the apps failing to start.
func (p statusPage) FailingRows() []statusAppRow {
	var rows []statusAppRow
	for _, r := range p.AppRows() {
		if r.App.Failing != nil {
			rows = append(rows, r)
		}
	}
	return rows
}

type statusAppRow struct {
	Site string
	App  StatusApp
}

//go:embed status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"rate":       fmtRate,
	"ms":         fmtMS,
	"count":      fmtCount,
	"bytes":      fmtBytes,
	"dur":        fmtDuration,
	"ago":        func(now, t time.Time) string { return fmtDuration(now.Sub(t).Seconds()) },
	"until":      func(now, t time.Time) string { return fmtDuration(max(t.Sub(now).Seconds(), 0)) },
	"clock":      func(t time.Time) string { return t.Format("2006-01-02 15:04:05Z") },
	"days":       func(now, t time.Time) int { return int(math.Floor(t.Sub(now).Hours() / 24)) },
	"firstLine":  firstLine,
	"deref":      func(p *int64) int64 { return *p },
	"rateChart":  rateChart,
	"latChart":   latencyChart,
	"groupChart": groupChart,
	"bar":        instanceBar,
}).Parse(statusHTML))

func fmtRate(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 0.1:
		return fmt.Sprintf("%.3f", v)
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 1000:
		return fmt.Sprintf("%.1f", v)
	}
	return fmtCount(int64(math.Round(v)))
}

func fmtMS(v *float64) string {
	switch {
	case v == nil:
		return "–"
	case *v < 1:
		return fmt.Sprintf("%.2f ms", *v)
	case *v < 100:
		return fmt.Sprintf("%.1f ms", *v)
	case *v < 1000:
		return fmt.Sprintf("%.0f ms", *v)
	}
	return fmt.Sprintf("%.2f s", *v/1000)
}

// fmtCount writes n with thin spaces between thousands.
func fmtCount(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n), 0
	for v >= unit && u < 4 {
		v /= unit
		u++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[u-1])
}

func fmtDuration(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d < 10*time.Second && d != d.Truncate(time.Second):
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// The charts: inline SVG drawn here, so that they need no script and no
// request. Only numbers go into them, formatted here; nothing of the
// config does, so template.HTML is safe.

const (
	chartW, chartH = 160.0, 38.0
	chartTop       = 11.0 // the line stays below the "max" label
)

// sparkPath returns an SVG line and the area under it for values (nil:
// no data) across the chart's width, scaled to top. Every site's and
// group's history has the same steps, so the charts share a time axis.
func sparkPath(values []*float64, top float64) (line, area string) {
	dx := chartW / float64(max(len(values)-1, 1))
	var lb, ab strings.Builder
	var started bool
	var lastX, firstX float64
	for i, v := range values {
		if v == nil {
			continue
		}
		x := float64(i) * dx
		y := chartH - 1
		if top > 0 {
			y = chartH - 1 - (chartH-chartTop)*math.Min(*v/top, 1)
		}
		cmd := "L"
		if !started {
			cmd, firstX = "M", x
			started = true
		}
		fmt.Fprintf(&lb, "%s%.1f %.1f", cmd, x, y)
		lastX = x
	}
	if !started {
		return "", ""
	}
	ab.WriteString(lb.String())
	fmt.Fprintf(&ab, "L%.1f %.1fL%.1f %.1fZ", lastX, chartH, firstX, chartH)
	return lb.String(), ab.String()
}

func svgOpen(b *strings.Builder, label string) {
	fmt.Fprintf(b, `<svg class="spark" viewBox="0 0 %g %g" width="%g" height="%g" preserveAspectRatio="none" role="img" aria-label="%s">`,
		chartW, chartH, chartW, chartH, label)
	fmt.Fprintf(b, `<line class="base" x1="0" y1="%g" x2="%g" y2="%g"/>`, chartH-0.5, chartW, chartH-0.5)
}

// rateChart draws a site's requests per second per step.
func rateChart(s StatusSite) template.HTML {
	vals := make([]*float64, len(s.History))
	top := 0.0
	for i, p := range s.History {
		if p != nil {
			v := p.PerSecond
			vals[i] = &v
			top = math.Max(top, v)
		}
	}
	var b strings.Builder
	svgOpen(&b, "requests per second")
	line, area := sparkPath(vals, top)
	if line != "" {
		fmt.Fprintf(&b, `<path class="area" d="%s"/><path class="line" d="%s"/>`, area, line)
	}
	fmt.Fprintf(&b, `<text x="2" y="9">max %s/s</text></svg>`, fmtRate(top))
	return template.HTML(b.String())
}

// latencyChart draws a site's p50 and p99 per step.
func latencyChart(s StatusSite) template.HTML {
	p50 := make([]*float64, len(s.History))
	p99 := make([]*float64, len(s.History))
	top := 0.0
	for i, p := range s.History {
		if p != nil {
			p50[i], p99[i] = p.P50ms, p.P99ms
			if p.P99ms != nil {
				top = math.Max(top, *p.P99ms)
			}
		}
	}
	var b strings.Builder
	svgOpen(&b, "p50 and p99 latency")
	if line, area := sparkPath(p99, top); line != "" {
		fmt.Fprintf(&b, `<path class="area p99" d="%s"/><path class="line p99" d="%s"/>`, area, line)
	}
	if line, _ := sparkPath(p50, top); line != "" {
		fmt.Fprintf(&b, `<path class="line p50" d="%s"/>`, line)
	}
	if top > 0 {
		fmt.Fprintf(&b, `<text x="2" y="9">max %s</text>`, fmtMS(&top))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// groupChart draws a group's calls per second, and its instances in use.
func groupChart(g StatusGroup) template.HTML {
	calls := make([]*float64, len(g.History))
	inUse := make([]*float64, len(g.History))
	top := 0.0
	for i, p := range g.History {
		if p != nil {
			c, u := p.PerSecond, float64(p.InUse)
			calls[i], inUse[i] = &c, &u
			top = math.Max(top, c)
		}
	}
	var b strings.Builder
	svgOpen(&b, "calls per second")
	if line, area := sparkPath(calls, top); line != "" {
		fmt.Fprintf(&b, `<path class="area" d="%s"/><path class="line" d="%s"/>`, area, line)
	}
	if line, _ := sparkPath(inUse, float64(max(g.Instances, 1))); line != "" {
		fmt.Fprintf(&b, `<path class="line inuse" d="%s"/>`, line)
	}
	fmt.Fprintf(&b, `<text x="2" y="9">max %s/s</text></svg>`, fmtRate(top))
	return template.HTML(b.String())
}

// instanceBar draws a group's capacity: busy, starting, idle, free.
func instanceBar(g StatusGroup) template.HTML {
	const w, h = 120.0, 10.0
	capacity := float64(max(int64(g.Instances), g.Busy+g.Starting+g.Idle, 1))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bar" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="instances">`, w, h, w, h)
	fmt.Fprintf(&b, `<rect class="free" x="0" y="0" width="%g" height="%g" rx="2"/>`, w, h)
	x := 0.0
	for _, part := range []struct {
		class string
		n     int64
	}{{"busy", g.Busy}, {"starting", g.Starting}, {"idle", g.Idle}} {
		if part.n == 0 {
			continue
		}
		pw := w * float64(part.n) / capacity
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="0" width="%.1f" height="%g"/>`, part.class, x, pw, h)
		x += pw
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
