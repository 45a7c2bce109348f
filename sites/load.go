package sites

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/netip"
	"os"
	slashpath "path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/runtimes/python"

	"github.com/BurntSushi/toml"
)

// Defaults, as documented in SPEC §3.
const (
	defaultListen            = "127.0.0.1:8080"
	defaultCacheDir          = ".wasgi-cache"
	defaultReadHeaderTimeout = 10 * time.Second
	defaultMaxBody           = 10 << 20
	defaultShutdownTimeout   = 30 * time.Second

	defaultInstances      = 4
	defaultMaxConnections = 10000
	defaultRequestTimeout = 60 * time.Second
	defaultQueueTimeout   = 10 * time.Second
	defaultIdleTimeout    = 5 * time.Minute
	defaultMemoryLimit    = 256 << 20
	defaultStackLimit     = 8 << 20
	minStackLimit         = 64 << 10
	maxStackLimit         = 256 << 20

	wasmPage    = 64 << 10 // the WebAssembly page size
	maxMemory   = 4 << 30  // the wasm32 address space
	nameCharset = `letters, digits, ".", "_" and "-"`
)

// loader carries one parse: where relative paths start, the position index
// and the problems found so far.
type loader struct {
	file string // as given, for messages
	dir  string // absolute folder of the config file
	idx  *index
	errs Errors
}

func parse(file string, data []byte) (*Config, error) {
	cfg := &Config{}
	dir := ""
	if file != "" {
		if abs, err := filepath.Abs(file); err == nil {
			cfg.File = abs
			dir = filepath.Dir(abs)
		}
	}
	if dir == "" {
		dir, _ = filepath.Abs(".")
	}
	src := string(data)
	l := &loader{file: file, dir: dir, idx: buildIndex(src)}

	var raw rawConfig
	md, err := toml.Decode(src, &raw)
	if err != nil {
		l.decodeError(err)
		return nil, l.errs
	}
	l.unknownKeys(md)
	cfg.Server = l.server(raw.Server)
	cfg.Groups = l.groups(raw.Groups)
	cfg.Sites = l.sites(raw.Site, cfg.Groups)
	l.tlsUse(cfg)
	l.acmeUse(cfg)
	if len(l.errs) > 0 {
		slices.SortStableFunc(l.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
		})
		return nil, l.errs
	}
	return cfg, nil
}

// errorf records a problem with the key or table at p.
func (l *loader) errorf(p path, format string, args ...any) {
	pos := l.idx.lookup(p)
	l.errs = append(l.errs, &Error{
		File: l.file,
		Line: pos.Line,
		Col:  pos.Col,
		Key:  p.dotted(),
		Msg:  fmt.Sprintf(format, args...),
	})
}

// required reports whether v is present, recording a problem if not.
func (l *loader) required(v any, p path) bool {
	if v == nil {
		l.errorf(p, "required key is missing")
		return false
	}
	return true
}

// requiredString reports whether v is present and a string, recording a
// problem if not.
func (l *loader) requiredString(v any, p path) bool {
	if !l.required(v, p) {
		return false
	}
	if _, ok := v.(string); !ok {
		l.errorf(p, "must be a string, not %s", tomlType(v))
		return false
	}
	return true
}

// nonEmpty returns v as a string, recording a problem when it is "".
func (l *loader) nonEmpty(v any, p path) string {
	s := l.str(v, p, "")
	if _, isString := v.(string); isString && s == "" {
		l.errorf(p, "must not be empty")
	}
	return s
}

// oneOf returns v, which must be one of allowed; def when absent.
func (l *loader) oneOf(v any, p path, def string, allowed ...string) string {
	s := l.str(v, p, def)
	if !slices.Contains(allowed, s) {
		l.errorf(p, "%q is not one of %s", s, strings.Join(allowed, ", "))
		return def
	}
	return s
}

// positive records a problem unless d > 0.
func (l *loader) positive(d time.Duration, p path) time.Duration {
	if d <= 0 {
		l.errorf(p, "must be longer than 0, not %v", d)
	}
	return d
}

// resolve makes name absolute against base.
func resolve(base, name string) string {
	if filepath.IsAbs(name) {
		return filepath.Clean(name)
	}
	return filepath.Join(base, name)
}

// checkPath records a problem unless abs is an existing directory (wantDir)
// or regular file.
func (l *loader) checkPath(p path, what, abs string, wantDir bool) {
	fi, err := os.Stat(abs)
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.errorf(p, "%s %q does not exist", what, abs)
	case errors.As(err, &pe):
		l.errorf(p, "%s %q: %v", what, abs, pe.Err)
	case err != nil:
		l.errorf(p, "%s %q: %v", what, abs, err)
	case wantDir && !fi.IsDir():
		l.errorf(p, "%s %q is not a directory", what, abs)
	case !wantDir && !fi.Mode().IsRegular():
		l.errorf(p, "%s %q is not a regular file", what, abs)
	}
}

// decodeErrorRE matches the decoder's type errors, which are not
// toml.ParseError values: `toml: line 3 (last key "server"): ...`.
var decodeErrorRE = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)

// decodeError turns a syntax or type error from the TOML library into an
// Error with position and key.
func (l *loader) decodeError(err error) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		e := &Error{
			File: l.file,
			Line: pe.Position.Line,
			Col:  pe.Position.Col,
			Key:  pe.LastKey,
			Msg:  strings.ReplaceAll(pe.Message, "\x00", `\x00`),
		}
		// The library's line is off by one for errors at the end of the
		// input; its byte offset is right, so count from that.
		if src := l.idx.src; pe.Position.Start > 0 && pe.Position.Start <= len(src) {
			before := src[:pe.Position.Start]
			e.Line = strings.Count(before, "\n") + 1
			e.Col = utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
		}
		l.errs = append(l.errs, e)
		return
	}
	e := &Error{File: l.file, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	if m := decodeErrorRE.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Key, _ = strconv.Unquote(m[2])
		e.Msg = m[3]
		if want := expectedShape(e.Key); want != "" {
			e.Msg = want
		}
		for _, p := range l.idx.occ[e.Key] {
			if pos := l.idx.at[p]; e.Line == 0 || pos.Line == e.Line {
				e.Line, e.Col = pos.Line, pos.Col
				break
			}
		}
		if e.Line == 0 {
			// An implicit table ([site.x] makes "site" a table): point
			// at the first key below it.
			for k, ps := range l.idx.occ {
				if strings.HasPrefix(k, e.Key+".") {
					if pos := l.idx.at[ps[0]]; e.Line == 0 || pos.Line < e.Line || pos.Line == e.Line && pos.Col < e.Col {
						e.Line, e.Col = pos.Line, pos.Col
					}
				}
			}
		}
	}
	l.errs = append(l.errs, e)
}

// expectedShape explains what the table key k must hold; "" when k is no
// table key.
func expectedShape(k string) string {
	parts := strings.Split(k, ".")
	if len(parts) == 2 && parts[0] == "groups" {
		return "must be a table ([groups.NAME])"
	}
	switch k {
	case "server", "groups":
		return fmt.Sprintf("must be a table ([%s])", k)
	case "server.tls", "server.admin_tls", "site.tls":
		return `must be a table: tls = { cert = "...", key = "..." }`
	case "site.app.env":
		return `must be a table of strings: env = { NAME = "value" }`
	case "site", "site.app", "site.alias", "site.directory", "site.location":
		return fmt.Sprintf("must be an array of tables ([[%s]])", k)
	case "site.app.dirs":
		return `must be an array of tables: dirs = [ { guest = "/data", host = "data" } ]`
	}
	return ""
}

// knownKeys lists the keys of each table, for unknown-key suggestions:
// the toml tags of rawConfig and the structs below it, so that a key added
// there is known here too.
var knownKeys = schemaKeys(reflect.TypeFor[rawConfig](), "", map[string][]string{})

// schemaKeys adds to keys the toml keys of struct type t, the table at
// path, and those of the tables below it ("groups.*" for the values of a
// map of tables).
func schemaKeys(t reflect.Type, path string, keys map[string][]string) map[string][]string {
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		keys[path] = append(keys[path], name)
		sub := name
		if path != "" {
			sub = path + "." + name
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Map {
			if ft = ft.Elem(); ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			sub += ".*"
		}
		if ft.Kind() == reflect.Struct {
			schemaKeys(ft, sub, keys)
		}
	}
	return keys
}

// isMapKey reports whether k[i] is a name chosen by the user (a group name
// or an env variable) rather than a schema key.
func isMapKey(k toml.Key, i int) bool {
	return i == 1 && strings.EqualFold(k[0], "groups") ||
		i == 3 && strings.EqualFold(k[0], "site") && strings.EqualFold(k[1], "app") && strings.EqualFold(k[2], "env")
}

// unknownKeys records every key the decoder did not use (a misspelling or a
// key in the wrong table) and every key that matched only by ignoring case.
func (l *loader) unknownKeys(md toml.MetaData) {
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	seen := map[string]int{}
	caseReported := map[string]bool{}
	for _, k := range md.Keys() {
		ks := k.String()
		n := seen[ks]
		seen[ks]++
		if undecoded[ks] && len(k) == 4 && strings.EqualFold(k[0], "site") && strings.EqualFold(k[1], "app") && strings.EqualFold(k[2], "outbound") {
			continue // an outbound { url, ca } table: checked by outbound()
		}
		if undecoded[ks] {
			if undecodedParent(k, undecoded) {
				continue // reported with its table
			}
			pos := l.idx.occurrence(k, n)
			l.errs = append(l.errs, &Error{File: l.file, Line: pos.Line, Col: pos.Col, Key: ks, Msg: "unknown key" + suggest(k)})
			continue
		}
		for i, seg := range k {
			if isMapKey(k, i) || seg == strings.ToLower(seg) {
				continue
			}
			if prefix := k[:i+1].String(); !caseReported[prefix] {
				caseReported[prefix] = true
				pos := l.idx.occurrence(k, n)
				l.errs = append(l.errs, &Error{File: l.file, Line: pos.Line, Col: pos.Col, Key: ks,
					Msg: fmt.Sprintf("unknown key %q (keys are lower case: %q)", seg, strings.ToLower(seg))})
			}
			break
		}
	}
}

func undecodedParent(k toml.Key, undecoded map[string]bool) bool {
	for i := 1; i < len(k); i++ {
		if undecoded[k[:i].String()] {
			return true
		}
	}
	return false
}

// suggest returns ` (did you mean "x"?)` for a near miss of a known key.
func suggest(k toml.Key) string {
	parent := slices.Clone(k[:len(k)-1])
	if len(parent) >= 2 && parent[0] == "groups" {
		parent[1] = "*"
	}
	last := strings.ToLower(k[len(k)-1])
	best, bestDist := "", 3
	for _, known := range knownKeys[strings.Join(parent, ".")] {
		if d := editDistance(last, known); d < bestDist {
			best, bestDist = known, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (l *loader) server(r *rawServer) Server {
	s := Server{
		Listen:            []string{defaultListen},
		CacheDir:          filepath.Join(l.dir, defaultCacheDir),
		ReadHeaderTimeout: defaultReadHeaderTimeout,
		MaxBody:           defaultMaxBody,
		ShutdownTimeout:   defaultShutdownTimeout,
		LogFormat:         "json",
		Compile:           "eager",
		AccessLog:         "combined",
		MaxConnections:    defaultMaxConnections,
	}
	if r == nil {
		s.ACME = l.acme(nil, root.key("server").key("acme"), s.CacheDir)
		return s
	}
	p := root.key("server")

	if r.Listen != nil || r.ListenTLS != nil {
		s.Listen = l.addrList(r.Listen, p.key("listen"))
	}
	if r.ListenTLS != nil {
		s.ListenTLS = l.addrList(r.ListenTLS, p.key("listen_tls"))
		for i, a := range s.ListenTLS {
			if slices.Contains(s.Listen, a) && !strings.HasSuffix(a, ":0") { // port 0: any free port
				l.errorf(p.key("listen_tls").at(i), "address %q is also in listen", a)
			}
		}
	}
	if r.Listen != nil && len(s.Listen) == 0 && len(s.ListenTLS) == 0 {
		l.errorf(p.key("listen"), "must list at least one address")
	}
	if r.ListenTLS != nil && r.Listen == nil && len(s.ListenTLS) == 0 {
		l.errorf(p.key("listen_tls"), "must list at least one address")
	}

	s.TLS = l.tlsPair(r.TLS, p.key("tls"), true)
	if s.TLS != nil && r.ListenTLS == nil {
		// The form of earlier versions: tls made every listen address
		// HTTPS.
		s.ListenTLS, s.Listen = s.Listen, nil
	}

	ap := p.key("admin")
	s.Admin = l.str(r.Admin, ap, "")
	if s.Admin != "" {
		if err := checkAddr(s.Admin); err != nil {
			l.errorf(ap, "%v", err)
		} else if strings.HasSuffix(s.Admin, ":0") {
			// port 0: any free port, never one of the listeners'
		} else if slices.Contains(s.Listen, s.Admin) {
			l.errorf(ap, "address %q is also in listen", s.Admin)
		} else if slices.Contains(s.ListenTLS, s.Admin) {
			l.errorf(ap, "address %q is also in listen_tls", s.Admin)
		}
	}
	s.AdminTLS = l.tlsPair(r.AdminTLS, p.key("admin_tls"), false)
	if r.AdminTokenFile != nil {
		tp := p.key("admin_token_file")
		if f := l.nonEmpty(r.AdminTokenFile, tp); f != "" {
			s.AdminTokenFile = resolve(l.dir, f)
			l.checkPath(tp, "token file", s.AdminTokenFile, false)
		}
	}
	if s.Admin == "" {
		if s.AdminTLS != nil {
			l.errorf(p.key("admin_tls"), "needs admin")
		}
		if r.AdminTokenFile != nil {
			l.errorf(p.key("admin_token_file"), "needs admin")
		}
	}

	if r.CacheDir != nil {
		cp := p.key("cache_dir")
		if c := l.nonEmpty(r.CacheDir, cp); c != "" {
			s.CacheDir = resolve(l.dir, c)
		}
	}

	s.ACME = l.acme(r.ACME, p.key("acme"), s.CacheDir)

	s.ReadHeaderTimeout = l.positive(l.duration(r.ReadHeaderTimeout, p.key("read_header_timeout"), s.ReadHeaderTimeout), p.key("read_header_timeout"))
	s.ShutdownTimeout = l.positive(l.duration(r.ShutdownTimeout, p.key("shutdown_timeout"), s.ShutdownTimeout), p.key("shutdown_timeout"))
	if s.MaxBody = l.size(r.MaxBody, p.key("max_body"), s.MaxBody); s.MaxBody <= 0 {
		l.errorf(p.key("max_body"), "must be more than 0 bytes")
	}
	if s.MaxConnections = l.integer(r.MaxConnections, p.key("max_connections"), s.MaxConnections); s.MaxConnections < 1 {
		l.errorf(p.key("max_connections"), "must be at least 1, not %d", s.MaxConnections)
	}
	if s.AuthCache = l.duration(r.AuthCache, p.key("auth_cache"), 0); s.AuthCache < 0 {
		l.errorf(p.key("auth_cache"), "must not be negative")
	}
	if s.AuthMaxFailures = l.integer(r.AuthMaxFailures, p.key("auth_max_failures"), DefaultAuthMaxFailures); s.AuthMaxFailures < 0 {
		l.errorf(p.key("auth_max_failures"), "must not be negative (0 turns the limit off)")
	}
	s.AuthFailureWindow = l.positive(l.duration(r.AuthFailureWindow, p.key("auth_failure_window"), DefaultAuthFailureWindow), p.key("auth_failure_window"))
	s.LogFormat = l.oneOf(r.LogFormat, p.key("log_format"), s.LogFormat, "json", "console")
	s.Compile = l.oneOf(r.Compile, p.key("compile"), s.Compile, "eager", "lazy")
	s.AccessLog = l.oneOf(r.AccessLog, p.key("access_log"), s.AccessLog, "combined", "json", "off")
	if r.AccessLogFile != nil {
		if f := l.nonEmpty(r.AccessLogFile, p.key("access_log_file")); f != "" {
			s.AccessLogFile = resolve(l.dir, f)
		}
	}
	return s
}

// tlsUse checks that HTTPS listeners have a certificate to serve, and
// that the sites' TLS keys have HTTPS listeners to apply to.
func (l *loader) tlsUse(cfg *Config) {
	own := false
	for i, s := range cfg.Sites {
		p := root.key("site").at(i)
		own = own || s.TLS != nil
		if len(cfg.Server.ListenTLS) > 0 {
			continue
		}
		if s.TLS != nil {
			l.errorf(p.key("tls"), "no HTTPS listener: add listen_tls to [server]")
		}
		if s.RedirectHTTPS {
			l.errorf(p.key("redirect_https"), "no HTTPS listener: add listen_tls to [server]")
		}
		if s.HSTS != "" {
			l.errorf(p.key("hsts"), "no HTTPS listener: add listen_tls to [server]")
		}
	}
	if len(cfg.Server.ListenTLS) > 0 && cfg.Server.TLS == nil && !own {
		l.errorf(root.key("server").key("listen_tls"), "no certificate: set [server] tls or a site's tls")
	}
}

// addrList reads a list of listen addresses: each valid, none twice.
func (l *loader) addrList(v any, lp path) []string {
	list, ok := l.strList(v, lp)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	for i, a := range list {
		if err := checkAddr(a); err != nil {
			l.errorf(lp.at(i), "%v", err)
		} else if seen[a] {
			l.errorf(lp.at(i), "address %q is listed twice", a)
		}
		seen[a] = true
	}
	return list
}

// tlsPair reads a tls table at tp (nil when absent): { cert, key }, both
// required, existing regular files, resolved against the config's folder;
// or, where allowACME, { acme = true } with optional challenges.
func (l *loader) tlsPair(r *rawTLS, tp path, allowACME bool) *TLS {
	if r == nil {
		return nil
	}
	t := &TLS{CertAt: l.pos(tp.key("cert")), KeyAt: l.pos(tp.key("key"))}
	if r.ACME != nil {
		t.ACME = l.boolean(r.ACME, tp.key("acme"), false)
		if t.ACME && !allowACME {
			l.errorf(tp.key("acme"), "not here: this listener needs a cert and key")
		}
	}
	if t.ACME {
		if r.Cert != nil || r.Key != nil {
			l.errorf(tp, "either cert and key, or acme = true, not both")
		}
		if r.Challenges != nil {
			t.Challenges = l.challenges(r.Challenges, tp.key("challenges"))
		}
		return t
	}
	if r.Challenges != nil {
		l.errorf(tp.key("challenges"), "needs acme = true")
	}
	if cp := tp.key("cert"); l.requiredString(r.Cert, cp) {
		if c := l.nonEmpty(r.Cert, cp); c != "" {
			t.Cert = resolve(l.dir, c)
			l.checkPath(cp, "certificate", t.Cert, false)
		}
	}
	if kp := tp.key("key"); l.requiredString(r.Key, kp) {
		if k := l.nonEmpty(r.Key, kp); k != "" {
			t.Key = resolve(l.dir, k)
			l.checkPath(kp, "key", t.Key, false)
		}
	}
	return t
}

// pos is where p is in the file, for problems found after loading.
func (l *loader) pos(p path) Pos {
	at := l.idx.lookup(p)
	return Pos{File: l.file, Line: at.Line, Col: at.Col, Key: p.dotted()}
}

// checkAddr checks a listen address: host:port with a numeric port; the
// host may be empty, an IP address or a host name.
func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return fmt.Errorf("invalid address %q: %s", a, ae.Err)
		}
		return fmt.Errorf("invalid address %q", a)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("invalid address %q: port must be a number from 0 to 65535", a)
	}
	if host != "" && !validHostname(strings.ToLower(host)) {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("invalid address %q: bad host %q", a, host)
		}
	}
	return nil
}

func newGroup(name string, private bool) *Group {
	return &Group{
		Name:           name,
		Private:        private,
		Instances:      defaultInstances,
		RequestTimeout: defaultRequestTimeout,
		QueueTimeout:   defaultQueueTimeout,
		IdleTimeout:    defaultIdleTimeout,
		MemoryLimit:    defaultMemoryLimit,
		StackLimit:     defaultStackLimit,
		HardTimeout:    true,
	}
}

func (l *loader) groups(raw map[string]*rawGroup) map[string]*Group {
	out := make(map[string]*Group, len(raw))
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		p := root.key("groups").key(name)
		if !validName(name) {
			l.errorf(p, "invalid group name %q: use %s", name, nameCharset)
		}
		out[name] = l.group(name, raw[name], p)
	}
	return out
}

func (l *loader) group(name string, r *rawGroup, p path) *Group {
	g := newGroup(name, false)
	if r == nil {
		return g
	}
	if g.Instances = l.integer(r.Instances, p.key("instances"), g.Instances); g.Instances < 1 {
		l.errorf(p.key("instances"), "must be at least 1, not %d", g.Instances)
	}
	g.MinInstances = l.integer(r.MinInstances, p.key("min_instances"), g.MinInstances)
	switch {
	case g.MinInstances < 0:
		l.errorf(p.key("min_instances"), "must not be negative, not %d", g.MinInstances)
	case g.MinInstances > g.Instances:
		l.errorf(p.key("min_instances"), "%d is more than instances (%d)", g.MinInstances, g.Instances)
	}
	if g.MaxRequests = l.integer(r.MaxRequests, p.key("max_requests"), g.MaxRequests); g.MaxRequests < 0 {
		l.errorf(p.key("max_requests"), "must not be negative (0 = never recycle), not %d", g.MaxRequests)
	}
	g.RequestTimeout = l.positive(l.duration(r.RequestTimeout, p.key("request_timeout"), g.RequestTimeout), p.key("request_timeout"))
	g.QueueTimeout = l.positive(l.duration(r.QueueTimeout, p.key("queue_timeout"), g.QueueTimeout), p.key("queue_timeout"))
	g.IdleTimeout = l.positive(l.duration(r.IdleTimeout, p.key("idle_timeout"), g.IdleTimeout), p.key("idle_timeout"))
	mp := p.key("memory_limit")
	switch m := l.size(r.MemoryLimit, mp, g.MemoryLimit); {
	case m < wasmPage:
		l.errorf(mp, "%s is less than one 64KiB wasm page", formatSize(m))
	case m > maxMemory:
		l.errorf(mp, "%s is more than the 4GiB a wasm32 module can address", formatSize(m))
	default:
		g.MemoryLimit = m / wasmPage * wasmPage
	}
	sp := p.key("stack_limit")
	switch s := l.size(r.StackLimit, sp, g.StackLimit); {
	case s < minStackLimit:
		l.errorf(sp, "%s is less than %s", formatSize(s), formatSize(minStackLimit))
	case s > maxStackLimit:
		l.errorf(sp, "%s is more than %s (wazero's own stack ends near 100MiB)", formatSize(s), formatSize(maxStackLimit))
	default:
		g.StackLimit = s
	}
	g.HardTimeout = l.boolean(r.HardTimeout, p.key("hard_timeout"), true)
	return g
}

func (l *loader) sites(raw []*rawSite, groups map[string]*Group) []*Site {
	if len(raw) == 0 {
		l.errs = append(l.errs, &Error{File: l.file, Key: "site", Msg: "no [[site]] table: declare at least one site"})
		return nil
	}
	names := map[string]path{}
	hostOwner := map[string]string{}
	sites := make([]*Site, 0, len(raw))
	for i, rs := range raw {
		p := root.key("site").at(i)
		if rs == nil {
			rs = &rawSite{}
		}
		s := &Site{Root: l.dir}

		if np := p.key("name"); l.requiredString(rs.Name, np) {
			s.Name = l.str(rs.Name, np, "")
			if first, dup := names[s.Name]; dup {
				l.errorf(np, "site %q is already declared at line %d", s.Name, l.idx.lookup(first.key("name")).Line)
			} else if !validName(s.Name) {
				l.errorf(np, "invalid site name %q: use %s", s.Name, nameCharset)
			} else {
				names[s.Name] = p
			}
		}

		if hp := p.key("hosts"); l.required(rs.Hosts, hp) {
			if list, ok := l.strList(rs.Hosts, hp); ok {
				if len(list) == 0 {
					l.errorf(hp, `must list at least one host (use "*" for the default site)`)
				}
				for j, h := range list {
					h = strings.ToLower(strings.TrimSpace(h))
					owner, taken := hostOwner[h]
					switch {
					case !validHost(h):
						l.errorf(hp.at(j), `invalid host %q: want a host name, "*.domain" or "*"`, list[j])
					case taken && owner == s.Name:
						l.errorf(hp.at(j), "host %q is listed twice", h)
					case taken && h == "*":
						l.errorf(hp.at(j), `only one site may be the default ("*"): site %q and site %q both are`, owner, s.Name)
					case taken:
						l.errorf(hp.at(j), "host %q is claimed by both site %q and site %q", h, owner, s.Name)
					default:
						hostOwner[h] = s.Name
						s.Hosts = append(s.Hosts, h)
					}
				}
			}
		}

		if rs.Root != nil {
			rp := p.key("root")
			if r := l.nonEmpty(rs.Root, rp); r != "" {
				s.Root = resolve(l.dir, r)
				l.checkPath(rp, "root", s.Root, true)
			}
		}

		s.TLS = l.tlsPair(rs.TLS, p.key("tls"), true)
		s.RedirectHTTPS = l.boolean(rs.Redirect, p.key("redirect_https"), false)
		s.HSTS = l.str(rs.HSTS, p.key("hsts"), "")
		if s.HSTS != "" && (!strings.HasPrefix(strings.ToLower(s.HSTS), "max-age=") || strings.ContainsAny(s.HSTS, "\r\n\x00")) {
			l.errorf(p.key("hsts"), `must start with "max-age=" (e.g. "max-age=31536000; includeSubDomains"), on one line`)
		}

		l.apps(s, rs.App, p.key("app"), groups)
		l.aliases(s, rs.Alias, p.key("alias"))
		l.directories(s, rs.Directory, p.key("directory"))
		l.locations(s, rs.Location, p.key("location"))
		sites = append(sites, s)
	}
	return sites
}

func (l *loader) apps(s *Site, raw []*rawApp, ap path, groups map[string]*Group) {
	names := map[string]bool{}
	mounts := map[string]string{}
	for j, ra := range raw {
		p := ap.at(j)
		if ra == nil {
			ra = &rawApp{}
		}
		a := &App{Env: map[string]string{}}

		if np := p.key("name"); l.requiredString(ra.Name, np) {
			a.Name = l.str(ra.Name, np, "")
			switch {
			case names[a.Name]:
				l.errorf(np, "app %q is declared twice in site %q", a.Name, s.Name)
			case !validName(a.Name):
				l.errorf(np, "invalid app name %q: use %s", a.Name, nameCharset)
			}
			names[a.Name] = true
		}

		if mp := p.key("mount"); l.requiredString(ra.Mount, mp) {
			m := l.str(ra.Mount, mp, "")
			if problem := checkURLPath(m); problem != "" {
				l.errorf(mp, "mount %q %s", m, problem)
			} else {
				a.Mount = TrimSlash(m)
				if other, dup := mounts[a.Mount]; dup {
					l.errorf(mp, "mount %q is already used by app %q", a.Mount, other)
				} else {
					mounts[a.Mount] = a.Name
				}
			}
		}

		a.Runtime = l.oneOf(ra.Runtime, p.key("runtime"), "", "", "python")
		if a.Runtime == "python" {
			if ra.Module != nil {
				l.errorf(p.key("module"), `an app with runtime = "python" runs the host's Python runtime: remove module`)
			}
			a.Python = l.python(s, ra, p)
		} else {
			for _, k := range []struct {
				v    any
				name string
			}{{ra.WSGI, "wsgi"}, {ra.PythonPath, "python_path"}, {ra.PythonHome, "python_home"}, {ra.CheckPassword, "check_password"}, {ra.GroupsForUser, "groups_for_user"}} {
				if k.v != nil {
					l.errorf(p.key(k.name), `%s applies to Python apps only: add runtime = "python"`, k.name)
				}
			}
			if mp := p.key("module"); l.requiredString(ra.Module, mp) {
				if m := l.nonEmpty(ra.Module, mp); m != "" {
					a.Module = resolve(s.Root, m)
					l.checkPath(mp, "module", a.Module, false)
				}
			}
		}

		if ra.Group != nil {
			gp := p.key("group")
			a.Group = l.str(ra.Group, gp, "")
			if g, ok := groups[a.Group]; !ok || g.Private {
				l.errorf(gp, "unknown group %q: no [groups.%s] table", a.Group, a.Group)
			}
		} else {
			a.Group = s.Name + "/" + a.Name
			groups[a.Group] = newGroup(a.Group, true)
		}

		a.ABI = l.oneOf(ra.ABI, p.key("abi"), "wasgi", "wasgi", "cgi")
		if a.Runtime == "python" && a.ABI != "wasgi" {
			l.errorf(p.key("abi"), `the Python runtime is a reactor: abi must be "wasgi"`)
		}

		ep := p.key("env")
		for _, k := range slices.Sorted(maps.Keys(ra.Env)) {
			kp := ep.key(k)
			v := l.str(ra.Env[k], kp, "")
			switch {
			case k == "":
				l.errorf(kp, "empty variable name")
			case strings.ContainsAny(k, "=\x00"):
				l.errorf(kp, `variable name %q must not contain "=" or NUL`, k)
			case abi.Reserved(k):
				l.errorf(kp, "variable %q is set by the host for each request; pick another name", k)
			case strings.ContainsRune(v, 0):
				l.errorf(kp, "value must not contain NUL")
			}
			a.Env[k] = v
		}

		guests := map[string]bool{}
		for d, rd := range ra.Dirs {
			dp := p.key("dirs").at(d)
			if rd == nil {
				rd = &rawDir{}
			}
			var dir Dir
			if gp := dp.key("guest"); l.requiredString(rd.Guest, gp) {
				dir.Guest = l.str(rd.Guest, gp, "")
				switch {
				case !strings.HasPrefix(dir.Guest, "/") || slashpath.Clean(dir.Guest) != dir.Guest:
					l.errorf(gp, `guest path %q must be absolute and clean, like "/data"`, dir.Guest)
				case dir.Guest == "/":
					l.errorf(gp, `guest path "/" is not allowed: preopen a folder such as "/data"`)
				case guests[dir.Guest]:
					l.errorf(gp, "guest path %q is preopened twice", dir.Guest)
				}
				guests[dir.Guest] = true
			}
			if hp := dp.key("host"); l.requiredString(rd.Host, hp) {
				if h := l.nonEmpty(rd.Host, hp); h != "" {
					dir.Host = resolve(s.Root, h)
					l.checkPath(hp, "host folder", dir.Host, true)
				}
			}
			dir.ReadOnly = l.oneOf(rd.Mode, dp.key("mode"), "ro", "ro", "rw") == "ro"
			dir.Quota = l.size(rd.Quota, dp.key("quota"), 0)
			if qf := l.integer(rd.QuotaFiles, dp.key("quota_files"), 0); qf < 0 {
				l.errorf(dp.key("quota_files"), "%d is negative", qf)
			} else {
				dir.QuotaFiles = int64(qf)
			}
			for _, k := range []string{"quota", "quota_files"} {
				if v := map[string]any{"quota": rd.Quota, "quota_files": rd.QuotaFiles}[k]; v != nil && dir.ReadOnly {
					l.errorf(dp.key(k), `a quota needs mode = "rw": a read-only dir cannot grow`)
				}
			}
			a.Dirs = append(a.Dirs, dir)
		}
		a.Outbound = l.outbound(s, ra, p)

		s.Apps = append(s.Apps, a)
	}
}

// python reads the keys of an app with runtime = "python".
func (l *loader) python(s *Site, ra *rawApp, p path) *PythonApp {
	py := &PythonApp{}
	if wp := p.key("wsgi"); l.requiredString(ra.WSGI, wp) {
		py.WSGI = l.str(ra.WSGI, wp, "")
		if !strings.Contains(py.WSGI, ":") {
			py.WSGI += ":application"
		}
		if !pyTarget.MatchString(py.WSGI) {
			l.errorf(wp, `%q is not "package.module:callable", like "mysite.wsgi:application"`, py.WSGI)
		}
	}
	if ra.PythonPath != nil {
		pp := p.key("python_path")
		if list, ok := l.strList(ra.PythonPath, pp); ok {
			for i, d := range list {
				if d == "" {
					l.errorf(pp.at(i), "empty folder name")
					continue
				}
				abs := resolve(s.Root, d)
				l.checkPath(pp.at(i), "python_path folder", abs, true)
				py.Path = append(py.Path, abs)
			}
		}
	}
	if ra.PythonHome != nil {
		hp := p.key("python_home")
		if h := l.nonEmpty(ra.PythonHome, hp); h != "" {
			py.Home = resolve(s.Root, h)
			l.checkPath(hp, "python_home folder", py.Home, true)
			if fi, err := os.Stat(py.Home); err == nil && fi.IsDir() && !isDir(python.SitePackages(py.Home)) {
				l.errorf(hp, "%s has no lib/%s/site-packages: python_home must be a Python %s virtual environment", py.Home, python.LibName, python.Version)
			}
		}
	}
	for _, f := range []struct {
		v    any
		name string
		dst  *string
	}{{ra.CheckPassword, "check_password", &py.CheckPassword}, {ra.GroupsForUser, "groups_for_user", &py.GroupsForUser}} {
		if f.v == nil {
			continue
		}
		fp := p.key(f.name)
		*f.dst = l.str(f.v, fp, "")
		if !pyTarget.MatchString(*f.dst) || !strings.Contains(*f.dst, ":") {
			l.errorf(fp, `%q is not "package.module:function", like "mysite.auth:check_password"`, *f.dst)
		}
	}
	return py
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// pyTarget matches "package.module:attribute".
var pyTarget = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

func (l *loader) aliases(s *Site, raw []*rawAlias, ap path) {
	mounts := map[string]*App{}
	for _, a := range s.Apps {
		if a.Mount != "" {
			mounts[strings.TrimSuffix(a.Mount, "/")] = a
		}
	}
	urls := map[string]bool{}
	for k, ra := range raw {
		p := ap.at(k)
		if ra == nil {
			ra = &rawAlias{}
		}
		al := &Alias{}
		urlOK := false
		if up := p.key("url"); l.requiredString(ra.URL, up) {
			u := l.str(ra.URL, up, "")
			app, conflict := mounts[strings.TrimSuffix(u, "/")]
			switch problem := checkURLPath(u); {
			case problem != "":
				l.errorf(up, "url %q %s", u, problem)
			case urls[u]:
				l.errorf(up, "url %q is already aliased", u)
			case conflict:
				l.errorf(up, "url %q conflicts with app %q (mount %q)", u, app.Name, app.Mount)
			default:
				urlOK = true
			}
			urls[u] = true
			al.URL = u
			al.File = !strings.HasSuffix(u, "/")
		}
		if pp := p.key("path"); l.requiredString(ra.Path, pp) {
			if v := l.nonEmpty(ra.Path, pp); v != "" {
				al.Path = resolve(s.Root, v)
				if urlOK {
					l.checkPath(pp, "path", al.Path, !al.File)
				}
			}
		}
		s.Aliases = append(s.Aliases, al)
	}
}

func (l *loader) directories(s *Site, raw []*rawDirectory, dp path) {
	seen := map[string]bool{}
	for k, rd := range raw {
		p := dp.at(k)
		if rd == nil {
			rd = &rawDirectory{}
		}
		d := &Directory{}
		if pp := p.key("path"); l.requiredString(rd.Path, pp) {
			if v := l.nonEmpty(rd.Path, pp); v != "" {
				d.Path = resolve(s.Root, v)
				if seen[d.Path] {
					l.errorf(pp, "directory %q is declared twice in site %q", d.Path, s.Name)
				}
				seen[d.Path] = true
			}
		}
		d.Auth, d.Realm = l.auth(s, rd.Auth, rd.Realm, p)
		d.Require = l.rules(rd.Require, p.key("require"), d.Auth != "")
		d.Options = l.options(rd.Options, p.key("options"))
		s.Directories = append(s.Directories, d)
	}
}

func (l *loader) locations(s *Site, raw []*rawLocation, lp path) {
	seen := map[string]bool{}
	for k, rl := range raw {
		p := lp.at(k)
		if rl == nil {
			rl = &rawLocation{}
		}
		loc := &Location{}
		if up := p.key("url"); l.requiredString(rl.URL, up) {
			loc.URL = l.str(rl.URL, up, "")
			if problem := checkURLPath(loc.URL); problem != "" {
				l.errorf(up, "url %q %s", loc.URL, problem)
			} else if seen[loc.URL] {
				l.errorf(up, "location %q is declared twice in site %q", loc.URL, s.Name)
			}
			seen[loc.URL] = true
		}
		loc.Auth, loc.Realm = l.auth(s, rl.Auth, rl.Realm, p)
		loc.Require = l.rules(rl.Require, p.key("require"), loc.Auth != "")
		loc.Options = l.options(rl.Options, p.key("options"))
		loc.PassAuthorization = l.boolean(rl.PassAuthorization, p.key("pass_authorization"), false)
		s.Locations = append(s.Locations, loc)
	}
}

// auth reads the auth provider and realm of a directory or location. The
// provider must be a wasgi app of the same site; the realm defaults to the
// site name.
func (l *loader) auth(s *Site, rawAuth, rawRealm any, p path) (auth, realm string) {
	ap := p.key("auth")
	auth = l.str(rawAuth, ap, "")
	if _, isString := rawAuth.(string); isString {
		i := slices.IndexFunc(s.Apps, func(a *App) bool { return a.Name == auth })
		switch {
		case i < 0:
			l.errorf(ap, "auth provider %q is not an app of site %q", auth, s.Name)
		case s.Apps[i].ABI != "wasgi":
			l.errorf(ap, "auth provider %q uses abi %q, which cannot check passwords", auth, s.Apps[i].ABI)
		}
	}
	rp := p.key("realm")
	realm = l.str(rawRealm, rp, "")
	if strings.ContainsFunc(realm, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '\\' }) {
		l.errorf(rp, `realm %q must not contain quotes, backslashes or control characters`, realm)
	}
	if realm == "" && auth != "" {
		realm = s.Name
	}
	return auth, realm
}

// rules reads a require list. Rules that need a user are errors when the
// table has no auth provider.
func (l *loader) rules(v any, p path, hasAuth bool) []Rule {
	list, _ := l.strList(v, p)
	var rules []Rule
	for i, s := range list {
		r, err := ParseRule(s)
		switch {
		case err != nil:
			l.errorf(p.at(i), "%v", err)
		case r.NeedsUser() && !hasAuth:
			l.errorf(p.at(i), "rule %q needs a user: set auth to an app of this site", r.String())
		default:
			rules = append(rules, r)
		}
	}
	return rules
}

// options reads an options list, matching names case-insensitively.
func (l *loader) options(v any, p path) Options {
	var o Options
	list, _ := l.strList(v, p)
	for i, s := range list {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "followsymlinks":
			o.FollowSymLinks = true
		case "indexes":
			o.Indexes = true
		default:
			l.errorf(p.at(i), `unknown option %q: want "FollowSymLinks" or "Indexes"`, s)
		}
	}
	return o
}

// checkURLPath returns what is wrong with a mount or URL prefix, or "".
func checkURLPath(u string) string {
	switch {
	case u == "":
		return "is empty"
	case u[0] != '/':
		return `must start with "/"`
	case strings.Contains(u, "//"):
		return `must not contain "//"`
	case strings.Contains(u+"/", "/./"), strings.Contains(u+"/", "/../"):
		return `must not contain "." or ".." segments`
	case strings.ContainsAny(u, "?#"):
		return `must not contain "?" or "#"`
	case strings.ContainsFunc(u, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "must not contain NUL or control characters"
	}
	return ""
}

// validName reports whether s is a site, app or group name.
func validName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isBare(c) && c != '.' {
			return false
		}
	}
	return true
}

// validHost reports whether the lower-cased h is a site host: a host name,
// a bracketed IPv6 address, "*.domain" or "*".
func validHost(h string) bool {
	if h == "*" {
		return true
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		return err == nil && a.Is6() && a.Zone() == ""
	}
	return validHostname(strings.TrimPrefix(h, "*."))
}

// validHostname reports whether h is a lower-case DNS name (or a dotted
// IPv4 address, which has the same shape).
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
