package apache

import (
	"fmt"
	"net"
	"net/netip"
	slashpath "path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/sites"
)

// Translate turns a parsed Apache configuration into wasgi TOML and a
// report with an entry for every directive. It never fails: what it cannot
// translate is reported as ignored, and access rules it cannot express are
// made stricter (denied), never looser.
func Translate(conf []*Directive) *Result {
	t := &translator{main: &scope{}, entries: map[entryKey]bool{}, reported: map[*Directive]bool{}, groupByApache: map[string]*group{}}
	t.walk(conf, t.main, nil)
	t.build()
	t.safetyNet(conf)
	slices.SortStableFunc(t.report, func(a, b Entry) int { return a.seq - b.seq })
	return &Result{TOML: t.render(conf), Report: t.report}
}

// scope is the main server or one <VirtualHost>: what its directives
// declare, gathered before anything is built from it.
type scope struct {
	vhost    *Directive // nil for the main server
	names    []*Directive
	aliases  []*Directive // ServerAlias
	scripts  []*Directive // WSGIScriptAlias
	files    []*Directive // Alias
	docRoots []*Directive
	blocks   []*block
	settings []*Directive // per-directory directives given at server level
}

// block is a <Directory>, <Files> or <Location> section.
type block struct {
	d      *Directive
	kind   string // "directory", "files" or "location", lower case
	parent *block // the <Directory> around a <Files>
	body   []*Directive
}

// arg is the block's path, file name or URL.
func (b *block) arg() string {
	if len(b.d.Args) == 0 {
		return ""
	}
	return b.d.Args[0]
}

// translator holds one translation: what was gathered, what was built and
// the report.
type translator struct {
	report   []Entry
	entries  map[entryKey]bool
	reported map[*Directive]bool

	main      *scope
	vhosts    []*scope
	listens   []*Directive
	daemons   []*Directive
	imports   []*Directive // WSGIImportScript
	pyHome    *Directive   // WSGIPythonHome
	pyPath    *Directive   // WSGIPythonPath
	roots     []*Directive // ServerRoot
	bodyLimit []*Directive // LimitRequestBody
	logs      []*Directive // CustomLog, TransferLog
	tls       []*Directive // SSLEngine, SSLCertificateFile, SSLCertificateKeyFile, SSLCertificateChainFile

	groups        []*group
	groupByApache map[string]*group
	sites         []*site
	listen        []string
	cert, key     string
	maxBody       int64
	accessLog     string
}

// entryKey identifies a report entry, so that it is made once.
type entryKey struct {
	d       *Directive
	label   string
	status  Status
	message string
}

// add records a report entry about d, once.
func (t *translator) add(d *Directive, label string, s Status, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if label == "" {
		label = clip(d.String())
	}
	k := entryKey{d, label, s, msg}
	if t.entries[k] {
		return
	}
	t.entries[k] = true
	t.reported[d] = true
	t.report = append(t.report, Entry{File: d.File, Line: d.Line, Status: s, Directive: label, Message: msg, seq: d.seq})
}

func (t *translator) translated(d *Directive, format string, args ...any) {
	t.add(d, "", Translated, format, args...)
}

func (t *translator) approximated(d *Directive, format string, args ...any) {
	t.add(d, "", Approximated, format, args...)
}

func (t *translator) ignored(d *Directive, format string, args ...any) {
	t.add(d, "", Ignored, format, args...)
}

// clip shortens a directive for the report.
func clip(s string) string {
	if r := []rune(s); len(r) > 100 {
		return string(r[:97]) + "..."
	}
	return s
}

// skip reports a section as ignored with everything in it, and says so if
// that loses access rules.
func (t *translator) skip(d *Directive, why string) { t.skipSection(d, why, true) }

// skipSection is skip; without checkAccess it does not say what the
// section's access rules were (a condition that does not hold loses
// nothing).
func (t *translator) skipSection(d *Directive, why string, checkAccess bool) {
	n := 0
	var mark func([]*Directive)
	mark = func(list []*Directive) {
		for _, c := range list {
			n++
			t.reported[c] = true
			mark(c.Children)
		}
	}
	mark(d.Children)
	msg := why
	switch {
	case n == 1:
		msg += " (with the directive in it)"
	case n > 1:
		msg += fmt.Sprintf(" (with the %d directives in it)", n)
	}
	if checkAccess && restricts(d.Children) {
		msg += "; ACCESS: the access rules in it are lost: check who can reach these files or URLs"
	}
	t.ignored(d, "%s", msg)
}

// restricts reports whether directives hold an access rule stricter than
// "everyone".
func restricts(list []*Directive) bool {
	for _, d := range list {
		name := strings.ToLower(d.Name)
		switch {
		case d.Section && restricts(d.Children):
			return true
		case name == "require" && !(len(d.Args) == 2 && strings.EqualFold(d.Args[0], "all") && strings.EqualFold(d.Args[1], "granted")),
			name == "deny", name == "authtype", name == "order" && len(d.Args) > 0 && strings.HasPrefix(strings.ToLower(d.Args[0]), "allow"):
			return true
		}
	}
	return false
}

// walk gathers directives into scopes and blocks.
func (t *translator) walk(list []*Directive, s *scope, b *block) {
	for _, d := range list {
		if d.Section {
			t.section(d, s, b)
			continue
		}
		switch strings.ToLower(d.Name) {
		case "include", "includeoptional":
			if len(d.Included) == 0 {
				t.ignored(d, "no file matches")
			} else {
				t.translated(d, "read %s", strings.Join(d.Included, ", "))
			}
			t.walk(d.Children, s, b)
			continue
		case "define", "undefine":
			t.translated(d, "applied to ${%s} in the lines that follow", first(d.Args))
			continue
		}
		if v := unresolved(d.Args); v != "" {
			t.ignored(d, "%s is not defined by a Define: replace it by hand", v)
			continue
		}
		if b != nil {
			b.body = append(b.body, d)
			continue
		}
		t.serverLevel(d, s)
	}
}

func first(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// unresolved returns the first ${NAME} left in args, or "".
func unresolved(args []string) string {
	for _, a := range args {
		if i := strings.Index(a, "${"); i >= 0 {
			if j := strings.IndexByte(a[i:], '}'); j > 0 {
				return a[i : i+j+1]
			}
		}
	}
	return ""
}

// apacheVersion is the Apache version <IfVersion> is evaluated against:
// the configuration is taken to be for a current Apache 2.4.
var apacheVersion = [3]int{2, 4, 62}

func (t *translator) section(d *Directive, s *scope, b *block) {
	name := strings.ToLower(d.Name)
	switch name {
	case "ifmodule", "ifdefine", "ifversion", "iffile", "ifdirective", "ifsection":
		ok, how := condition(d)
		if !ok {
			t.skipSection(d, how, false)
			return
		}
		t.approximated(d, "%s", how)
		t.walk(d.Children, s, b)
	case "virtualhost":
		if s != t.main || b != nil {
			t.skip(d, "<VirtualHost> belongs at the top level")
			return
		}
		vs := &scope{vhost: d}
		t.vhosts = append(t.vhosts, vs)
		t.walk(d.Children, vs, nil)
	case "directory", "location", "files":
		if b != nil && !(name == "files" && b.kind == "directory") {
			t.skip(d, fmt.Sprintf("<%s> cannot be inside <%s>", d.Name, b.d.Name))
			return
		}
		nb := &block{d: d, kind: name, parent: b}
		s.blocks = append(s.blocks, nb)
		t.walk(d.Children, s, nb)
	case "directorymatch", "locationmatch", "filesmatch":
		t.skip(d, "regular expressions have no wasgi equivalent: write a [[site.directory]] or [[site.location]] for each path")
	case "requireany", "requireall", "requirenone", "limit", "limitexcept":
		if b == nil {
			t.skip(d, fmt.Sprintf("<%s> belongs in <Directory>, <Files> or <Location>", d.Name))
			return
		}
		b.body = append(b.body, d)
	case "if", "elseif", "else":
		t.skip(d, "expressions are evaluated per request in Apache; wasgi has none")
	default:
		t.skip(d, "no wasgi equivalent")
	}
}

// condition evaluates an <If...> section the way the translation assumes
// Apache runs: a current 2.4 with every module loaded.
func condition(d *Directive) (ok bool, how string) {
	arg := first(d.Args)
	neg := strings.HasPrefix(arg, "!")
	switch strings.ToLower(d.Name) {
	case "ifmodule":
		if neg {
			return false, "skipped: taken as if " + strings.TrimPrefix(arg, "!") + " were loaded"
		}
		return true, "its directives are translated as if " + arg + " were loaded"
	case "ifdefine":
		if d.defined {
			return true, "its directives are translated: " + arg + " holds for the Defines read"
		}
		return false, "skipped: " + arg + " does not hold for the Defines read (apachectl -D is not known here)"
	case "ifversion":
		if versionHolds(d.Args) {
			return true, "its directives are translated: holds for Apache 2.4"
		}
		return false, "skipped: does not hold for Apache 2.4"
	}
	if neg {
		return false, "skipped: taken as if " + strings.TrimPrefix(arg, "!") + " existed"
	}
	return true, "its directives are translated as if " + arg + " existed"
}

// versionHolds evaluates the arguments of <IfVersion [[!]op] version>.
func versionHolds(args []string) bool {
	op, v := "=", ""
	switch len(args) {
	case 1:
		v = args[0]
	case 2:
		op, v = args[0], args[1]
	default:
		return false
	}
	neg := strings.HasPrefix(op, "!")
	op = strings.TrimPrefix(op, "!")
	var want [3]int
	parts := strings.Split(v, ".")
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return neg // a regular expression: not evaluated
		}
		want[i] = n
	}
	c := 0
	for i := range want {
		if i >= len(parts) { // "2.4" matches any 2.4.x
			break
		}
		if c = apacheVersion[i] - want[i]; c != 0 {
			break
		}
	}
	var r bool
	switch op {
	case "=", "==":
		r = c == 0
	case ">":
		r = c > 0
	case ">=":
		r = c >= 0
	case "<":
		r = c < 0
	case "<=":
		r = c <= 0
	}
	return r != neg
}

// serverLevel gathers a directive outside <Directory>, <Files> and
// <Location>.
func (t *translator) serverLevel(d *Directive, s *scope) {
	switch strings.ToLower(d.Name) {
	case "servername":
		s.names = append(s.names, d)
	case "serveralias":
		s.aliases = append(s.aliases, d)
	case "wsgiscriptalias":
		s.scripts = append(s.scripts, d)
	case "alias":
		s.files = append(s.files, d)
	case "documentroot":
		s.docRoots = append(s.docRoots, d)
	case "wsgiprocessgroup", "wsgiapplicationgroup", "wsgipassauthorization", "setenv", "wsgicallableobject":
		s.settings = append(s.settings, d)
	case "listen":
		t.listens = append(t.listens, d)
	case "wsgidaemonprocess":
		t.daemons = append(t.daemons, d)
	case "wsgiimportscript":
		t.imports = append(t.imports, d)
	case "wsgipythonhome":
		t.pyHome = d
	case "wsgipythonpath":
		t.pyPath = d
	case "serverroot":
		t.roots = append(t.roots, d)
	case "limitrequestbody":
		t.bodyLimit = append(t.bodyLimit, d)
	case "customlog", "transferlog":
		t.logs = append(t.logs, d)
	case "sslengine", "sslcertificatefile", "sslcertificatekeyfile", "sslcertificatechainfile":
		t.tls = append(t.tls, d)
	case "require", "order", "allow", "deny", "satisfy", "authtype", "authname", "authbasicprovider",
		"authuserfile", "authgroupfile", "wsgiauthuserscript", "wsgiauthgroupscript", "options", "allowoverride":
		t.ignored(d, "outside <Directory>, <Files> and <Location> it applies to no path wasgi serves")
	default:
		t.ignoreKnown(d)
	}
}

// serverRoot is the folder Apache takes relative paths from.
func (t *translator) serverRoot() string {
	if len(t.roots) == 0 {
		return ""
	}
	return first(t.roots[len(t.roots)-1].Args)
}

// filePath makes a path from the configuration absolute against
// ServerRoot, as Apache does, and cleans it, keeping a final slash.
func (t *translator) filePath(p string) string {
	if p == "" {
		return ""
	}
	p = strings.ToValidUTF8(p, "\uFFFD") // as the TOML will have it
	slash := strings.HasSuffix(p, "/")
	if !slashpath.IsAbs(p) && t.serverRoot() != "" {
		p = slashpath.Join(t.serverRoot(), p)
	}
	p = slashpath.Clean(p)
	if slash && p != "/" {
		p += "/"
	}
	return p
}

// build turns what was gathered into groups, sites and server settings.
func (t *translator) build() {
	for _, d := range t.roots {
		t.translated(d, "relative paths are taken from it")
	}
	t.buildGroups()
	t.buildSites()
	t.buildServer()
	t.reportSettings()
}

// safetyNet reports every directive that nothing else reported, so that
// none is dropped silently.
func (t *translator) safetyNet(list []*Directive) {
	for _, d := range list {
		if !t.reported[d] {
			switch {
			case d.Section:
				t.ignored(d, "nothing in it applies to a site wasgi serves")
			default:
				t.ignored(d, "applies to no app or file served here")
			}
		}
		t.safetyNet(d.Children)
	}
}

// group is a [groups.NAME] table, from a WSGIDaemonProcess.
type group struct {
	name, apache string
	d            *Directive
	instances    int64
	instNote     string
	minInstances int64
	minNote      string
	maxRequests  int64
	timeouts     [3]int64 // request, queue, idle: seconds, 0 = default
	memory       int64
	memNote      string
	pythonPath   []string
	pythonHome   string
	used         bool
}

// groupOptionIgnored gives the reason each WSGIDaemonProcess option
// without an equivalent is ignored.
var groupOptionIgnored = map[string]string{
	"home":                    "there is no working directory: an app sees only the folders in its dirs",
	"user":                    "isolation comes from the sandbox, not from Unix accounts",
	"group":                   "isolation comes from the sandbox, not from Unix accounts",
	"display-name":            "logs and metrics carry site, app and group fields instead of a process title",
	"lang":                    "names and paths are UTF-8 bytes end to end: there is no locale",
	"locale":                  "names and paths are UTF-8 bytes end to end: there is no locale",
	"socket-timeout":          "no socket between web server and app: the ABI is a function call",
	"connect-timeout":         "no socket between web server and app: the ABI is a function call",
	"header-buffer-size":      "no socket between web server and app: the ABI is a function call",
	"response-buffer-size":    "no socket between web server and app: the ABI is a function call",
	"response-socket-timeout": "no socket between web server and app: the ABI is a function call",
	"send-buffer-size":        "no socket between web server and app: the ABI is a function call",
	"receive-buffer-size":     "no socket between web server and app: the ABI is a function call",
	"listen-backlog":          "no socket between web server and app: the ABI is a function call",
	"graceful-timeout":        "[server] shutdown_timeout bounds draining for the whole server",
	"shutdown-timeout":        "[server] shutdown_timeout bounds draining for the whole server",
	"eviction-timeout":        "a reload (SIGHUP) swaps the whole configuration",
	"restart-interval":        "a reload (SIGHUP) swaps the whole configuration",
	"deadlock-timeout":        "a stuck request is stopped by request_timeout",
	"startup-timeout":         "instance start is bounded by request_timeout",
	"cpu-time-limit":          "a call's CPU is bounded by request_timeout",
	"cpu-priority":            "long calls run at a lower thread priority already",
	"virtual-memory-limit":    "memory_limit caps each instance's memory",
	"stack-size":              "a guest's own stack is in its memory_limit; the engine's, per call, is bounded by stack_limit",
	"maximum-requests-jitter": "instances are recycled at max_requests exactly",
	"threads-per-process":     "see threads",
	"umask":                   "files are written through preopened dirs only",
	"chroot":                  "an app sees only the folders in its dirs",
	"script-user":             "isolation comes from the sandbox, not from Unix accounts",
	"server-metrics":          "metrics are on the admin listener's /metrics",
	"send-timeout":            "client timeouts are server-wide",
}

func (t *translator) buildGroups() {
	names := map[string]bool{}
	for _, d := range t.daemons {
		if len(d.Args) == 0 {
			t.ignored(d, "names no group")
			continue
		}
		apacheName := d.Args[0]
		if prev, dup := t.groupByApache[apacheName]; dup {
			t.ignored(d, "group %s is already defined at %s:%d", apacheName, prev.d.File, prev.d.Line)
			continue
		}
		g := &group{apache: apacheName, name: unique(names, sanitizeName(apacheName, "group")), d: d}
		t.groupByApache[apacheName] = g
		t.groups = append(t.groups, g)
		table := "[groups." + key(g.name) + "]"
		if g.name != apacheName {
			t.add(d, d.Name+" "+apacheName, Approximated, "%s: %s is not a wasgi name (letters, digits, \".\", \"_\" and \"-\")", table, apacheName)
		} else {
			t.add(d, d.Name+" "+apacheName, Translated, "%s", table)
		}
		t.instances(g)
		for _, opt := range d.Args[1:] {
			label := clip(d.Name + " " + apacheName + " " + opt)
			k, v, _ := strings.Cut(opt, "=")
			k = strings.ToLower(k)
			seconds := func(slot int, tomlKey string) {
				n, err := strconv.ParseInt(v, 10, 32)
				if err != nil || n <= 0 {
					t.add(d, label, Ignored, "want a whole number of seconds above 0")
					return
				}
				g.timeouts[slot] = n
				t.add(d, label, Translated, "%s = %q", tomlKey, fmt.Sprintf("%ds", n))
			}
			switch k {
			case "processes", "threads":
				// see instances
			case "maximum-requests":
				n, err := strconv.ParseInt(v, 10, 32)
				if err != nil || n < 0 {
					t.add(d, label, Ignored, "want a whole number")
					continue
				}
				g.maxRequests = n
				t.add(d, label, Translated, "max_requests = %d, per instance", n)
			case "request-timeout":
				seconds(0, "request_timeout")
			case "queue-timeout":
				seconds(1, "queue_timeout")
			case "inactivity-timeout":
				seconds(2, "idle_timeout")
			case "memory-limit":
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n <= 0 {
					t.add(d, label, Ignored, "want a number of bytes")
					continue
				}
				m := min(max(n, 64<<10), 4<<30) / (64 << 10) * (64 << 10)
				g.memory = m
				g.memNote = "memory-limit=" + v + ", per process in mod_wsgi"
				t.add(d, label, Approximated, "memory_limit = %q: mod_wsgi checks a whole process's memory after the fact; wasgi caps each instance's memory (64KiB to 4GiB, whole 64KiB pages)", formatSize(m))
			case "python-home":
				g.pythonHome = t.filePath(v)
				t.add(d, label, Translated, "python_home = %s for the apps of the group; it must be a Python 3.11 virtual environment (lib/python3.11/site-packages)", quote(g.pythonHome))
			case "python-path":
				hasHome := slices.ContainsFunc(d.Args[1:], func(o string) bool { return strings.HasPrefix(strings.ToLower(o), "python-home=") })
				path, home, notes := splitPythonPath(v, hasHome)
				for i := range path {
					path[i] = t.filePath(path[i])
				}
				g.pythonPath = path
				msg := "python_path = " + quoteList(path) + " for the apps of the group"
				status := Translated
				if home != "" {
					g.pythonHome = t.filePath(home)
					msg += "; " + strings.Join(notes, "; ")
					status = Approximated
				}
				t.add(d, label, status, "%s", msg)
			default:
				if why, ok := groupOptionIgnored[k]; ok {
					t.add(d, label, Ignored, "%s", why)
				} else {
					t.add(d, label, Ignored, "not a WSGIDaemonProcess option wasgi knows")
				}
			}
		}
	}
	for _, d := range t.imports {
		t.importScript(d)
	}
}

// instances maps processes × threads to instances: an instance serves one
// request at a time, like one daemon thread.
func (t *translator) instances(g *group) {
	d := g.d
	processes, threads := int64(1), int64(15)
	pSet, tSet := false, false
	label := d.Name + " " + g.apache
	for _, opt := range d.Args[1:] {
		k, v, _ := strings.Cut(opt, "=")
		k = strings.ToLower(k)
		if k != "processes" && k != "threads" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			t.add(d, clip(d.Name+" "+g.apache+" "+opt), Ignored, "want a whole number above 0")
			continue
		}
		label += " " + opt
		if k == "processes" {
			processes, pSet = n, true
		} else {
			threads, tSet = n, true
		}
	}
	g.instances = min(processes*threads, 1<<20)
	how := fmt.Sprintf("%d process", processes)
	if processes != 1 {
		how += "es"
	}
	if !pSet && tSet {
		how += " (mod_wsgi's default)"
	}
	how += fmt.Sprintf(" × %d threads", threads)
	switch {
	case !pSet && !tSet:
		how += ", mod_wsgi's defaults"
	case !tSet:
		how += " (mod_wsgi's default)"
	}
	g.instNote = "processes × threads: " + how
	t.add(d, clip(label), Approximated,
		"instances = %d: %s; an instance serves one request at a time, like one daemon thread, but each has its own interpreter and memory: lower it to the requests you expect at once", g.instances, how)
}

// importScript maps WSGIImportScript, which loads an app when its daemon
// process starts, to min_instances = 1.
func (t *translator) importScript(d *Directive) {
	var g *group
	for _, opt := range d.Args[1:] {
		if k, v, _ := strings.Cut(opt, "="); strings.EqualFold(k, "process-group") {
			g = t.groupByApache[v]
		}
	}
	if g == nil {
		t.ignored(d, "names no WSGIDaemonProcess group: nothing to preload")
		return
	}
	t.preload(g, d, "WSGIImportScript")
}

// preload keeps one instance of each app of g alive, as mod_wsgi loads a
// script when a daemon process starts.
func (t *translator) preload(g *group, d *Directive, why string) {
	g.minInstances = 1
	g.minNote = why + " preloads the app"
	t.approximated(d, "min_instances = 1 in [groups.%s]: an instance of each app of the group is made at start, as mod_wsgi loads the script when the daemon starts", key(g.name))
}

// sanitizeName turns s into a wasgi name (letters, digits, ".", "_", "-").
func sanitizeName(s, fallback string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '.' || c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			b[i] = '-'
		}
	}
	if r := string(b); r != "" && r != "." && r != ".." && strings.Trim(r, "-") != "" {
		return r
	}
	return fallback
}

// unique returns name, or name-2, name-3... if it is taken, and takes it.
func unique(taken map[string]bool, name string) string {
	n := name
	for i := 2; taken[n]; i++ {
		n = fmt.Sprintf("%s-%d", name, i)
	}
	taken[n] = true
	return n
}

// site is a [[site]] table.
type site struct {
	name    string
	scope   *scope
	inherit *scope // the main server, for a <VirtualHost>
	hosts   []string
	hostSrc map[string]*Directive
	apps    []*app
	aliases []*alias
	dirs    []*rule
	locs    []*rule
	access  map[*block]*access
	byKind  map[string][]*block // see blocksOf
	holders map[*block]bool     // the blocks that hold an app's script
}

// app is a [[site.app]] table, from a WSGIScriptAlias.
type app struct {
	name, mount, script string
	d                   *Directive
	opts                map[string]string // the WSGIScriptAlias options
	wsgi                string
	wsgiNote            string
	pythonPath          []string
	pythonHome          string
	group               *group
	blocks              []*block // see scriptBlocks
	env                 [][2]string
	checkPassword       string
	groupsForUser       string
}

// alias is a [[site.alias]] table.
type alias struct {
	url, path string
	d         *Directive
}

// rule is a [[site.directory]] or [[site.location]] table.
type rule struct {
	at       string // path or URL
	d        *Directive
	comment  string
	require  []string
	options  []string
	auth     string
	realm    string
	passAuth bool
}

func (t *translator) buildSites() {
	scopes := t.vhosts
	if len(scopes) == 0 {
		scopes = []*scope{t.main}
	}
	for _, s := range scopes {
		st := &site{scope: s, hostSrc: map[string]*Directive{}, access: map[*block]*access{}}
		if s != t.main {
			st.inherit = t.main
		}
		t.hosts(st)
		t.sites = append(t.sites, st)
	}
	t.claimHosts()
	for _, st := range t.sites {
		t.apps(st)
		t.aliases(st)
		t.rules(st)
		t.reportApps(st)
	}
}

// firstHost is the site's first host name that is not a wildcard.
func firstHost(hosts []string) string {
	for _, h := range hosts {
		if !strings.Contains(h, "*") {
			return strings.Trim(h, "[]")
		}
	}
	return ""
}

// hosts reads ServerName and ServerAlias.
func (t *translator) hosts(st *site) {
	s := st.scope
	names := s.names
	if len(names) == 0 && st.inherit != nil {
		names = st.inherit.names
	}
	if len(names) > 1 {
		for _, d := range names[:len(names)-1] {
			t.ignored(d, "a later ServerName replaces it")
		}
		names = names[len(names)-1:]
	}
	add := func(d *Directive, arg string) {
		h, ok := hostName(arg)
		switch {
		case !ok:
			t.add(d, clip(d.Name+" "+arg), Ignored, "not a host name wasgi can match (a name, \"*.domain\" or \"*\")")
		case slices.Contains(st.hosts, h):
			t.add(d, clip(d.Name+" "+arg), Translated, "host %s is listed already", h)
		default:
			st.hosts = append(st.hosts, h)
			st.hostSrc[h] = d
		}
	}
	for _, d := range names {
		add(d, first(d.Args))
	}
	for _, d := range s.aliases {
		for _, a := range d.Args {
			add(d, a)
		}
	}
}

// hostName turns a ServerName or ServerAlias argument into a wasgi host.
func hostName(s string) (string, bool) {
	s = strings.ToLower(s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "]"); i > 0 {
			s = s[:i+1]
		}
	} else if h, port, ok := strings.Cut(s, ":"); ok && port != "" {
		s = h
	}
	s = strings.TrimSuffix(s, ".")
	return s, sites.ValidHost(s)
}

// claimHosts gives each host name to one site, as wasgi requires: sites
// with apps or files first, so that a <VirtualHost> that only redirects
// (port 80 to 443, say) yields to the one that serves; drops sites left
// without a host; names the sites; and gives "*" to the first site, as
// Apache answers unknown names with the first <VirtualHost>.
func (t *translator) claimHosts() {
	owner := map[string]*site{}
	type lost struct {
		d     *Directive
		host  string
		owner *site
	}
	var losses []lost
	served := func(st *site) bool {
		for _, s := range []*scope{st.scope, st.inherit} {
			if s != nil && len(s.scripts)+len(s.files)+len(s.docRoots) > 0 {
				return true
			}
		}
		return false
	}
	for _, pass := range []bool{true, false} {
		for _, st := range t.sites {
			if served(st) != pass {
				continue
			}
			kept := st.hosts[:0]
			for _, h := range st.hosts {
				if o, taken := owner[h]; taken {
					losses = append(losses, lost{st.hostSrc[h], h, o})
					continue
				}
				owner[h] = st
				kept = append(kept, h)
			}
			st.hosts = kept
		}
	}
	kept := t.sites[:0]
	for _, st := range t.sites {
		if len(st.hosts) == 0 && st.scope != t.main {
			if len(st.scope.names)+len(st.scope.aliases) > 0 {
				t.ignored(st.scope.vhost, "every host name of it is served by another site: merge what differs by hand")
			} else {
				t.ignored(st.scope.vhost, "no ServerName: Apache reaches it by address only; wasgi chooses sites by host name")
			}
			continue
		}
		kept = append(kept, st)
	}
	t.sites = kept
	if len(t.sites) == 0 {
		t.sites = []*site{{scope: t.main, hostSrc: map[string]*Directive{}, access: map[*block]*access{}}}
	}
	names := map[string]bool{}
	for _, st := range t.sites {
		fallback := "site"
		if st.scope == t.main {
			fallback = "default"
		}
		st.name = unique(names, sanitizeName(firstHost(st.hosts), fallback))
	}
	for _, l := range losses {
		t.add(l.d, clip(l.d.Name+" "+l.host), Ignored, "host %s is already served by site %q; wasgi serves every site on every listen address", l.host, l.owner.name)
	}
	if owner["*"] == nil {
		st := t.sites[0]
		st.hosts = append(st.hosts, "*")
		if st.scope.vhost != nil {
			t.approximated(st.scope.vhost, "[[site]] %q is also the default site (\"*\"): Apache answers unknown host names with the first <VirtualHost>", st.name)
		}
	}
	for _, st := range t.sites {
		if v := st.scope.vhost; v != nil {
			t.translated(v, "[[site]] %q with hosts %s", st.name, quoteList(st.hosts))
		}
		names := st.scope.names
		if st.inherit != nil && len(names) == 0 {
			names = st.inherit.names
		}
		for _, d := range append(slices.Clone(names), st.scope.aliases...) {
			if slices.ContainsFunc(st.hosts, func(h string) bool { return st.hostSrc[h] == d }) {
				t.translated(d, "hosts of site %q", st.name)
			}
		}
	}
}

// scriptArgs splits WSGIScriptAlias arguments into URL, script and options.
func scriptArgs(args []string) (url, script string, opts map[string]string, bad []string) {
	opts = map[string]string{}
	for i, a := range args {
		switch i {
		case 0:
			url = a
		case 1:
			script = a
		default:
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				bad = append(bad, a)
				continue
			}
			opts[strings.ToLower(k)] = v
		}
	}
	return url, script, opts, bad
}

// apps makes an app of each WSGIScriptAlias of the site's scope and of the
// main server's.
func (t *translator) apps(st *site) {
	names := map[string]bool{}
	mounts := map[string]bool{}
	for _, d := range t.inherited(st, func(s *scope) []*Directive { return s.scripts }) {
		url, script, opts, bad := scriptArgs(d.Args)
		switch {
		case len(d.Args) < 2 || script == "":
			t.ignored(d, "takes a URL and a script")
			continue
		case strings.HasSuffix(script, "/"):
			t.ignored(d, "a folder of scripts: declare one [[site.app]] for each script")
			continue
		case len(bad) > 0:
			t.ignored(d, "%q is not an option (name=value)", bad[0])
			continue
		}
		mount := sites.TrimSlash(url)
		if problem := sites.CheckURLPath(mount); problem != "" {
			t.ignored(d, "mount %q %s", mount, problem)
			continue
		}
		if mounts[mount] {
			t.ignored(d, "an earlier WSGIScriptAlias of site %q has the same URL", st.name)
			continue
		}
		mounts[mount] = true
		name := "main"
		if mount != "/" {
			name = sanitizeName(slashpath.Base(mount), "app")
		}
		a := &app{name: unique(names, name), mount: mount, script: t.filePath(script), d: d, opts: opts}
		st.apps = append(st.apps, a)
		t.appSettings(st, a)
		t.python(a)
	}
}

// inherited lists a scope's directives of one kind, then the main
// server's, which a <VirtualHost> inherits.
func (t *translator) inherited(st *site, of func(*scope) []*Directive) []*Directive {
	list := slices.Clone(of(st.scope))
	if st.inherit != nil {
		list = append(list, of(st.inherit)...)
	}
	return list
}

// appSettings applies the per-directory directives that cover an app:
// WSGIProcessGroup, WSGICallableObject, SetEnv and WSGIPassAuthorization,
// the most specific last, as Apache merges them.
func (t *translator) appSettings(st *site, a *app) {
	var group, callable *Directive
	env := map[string]int{}
	for _, d := range t.covering(st, a, false) {
		switch strings.ToLower(d.Name) {
		case "wsgiprocessgroup":
			group = d
		case "wsgicallableobject":
			callable = d
		case "wsgiapplicationgroup":
			t.ignored(d, "every app has its own interpreter: apps never share one")
		case "setenv":
			t.setEnv(st, a, d, env)
		}
	}
	value, from := "", ""
	if group != nil {
		value, from = first(group.Args), "WSGIProcessGroup"
	}
	if v, ok := a.opts["process-group"]; ok {
		if group != nil && v != value {
			t.ignored(group, "the process-group= of WSGIScriptAlias %s (%s) overrides it for app %q of site %q", a.mount, at(a.d), a.name, st.name)
		} else if group != nil {
			t.translated(group, "group = %q for app %q of site %q, as its WSGIScriptAlias says too", value, a.name, st.name)
		}
		value, from = v, "process-group="
	}
	switch g := t.groupByApache[value]; {
	case value == "":
	case g != nil:
		a.group = g
		g.used = true
		if group != nil && from == "WSGIProcessGroup" {
			t.translated(group, "group = %q for app %q of site %q", g.name, a.name, st.name)
		}
		if _, ok := a.opts["application-group"]; ok && from == "process-group=" {
			t.preload(g, a.d, "process-group= with application-group=")
		}
	case strings.HasPrefix(value, "%{"):
		if group != nil && from == "WSGIProcessGroup" {
			t.approximated(group, "%s: app %q of site %q runs in a private group with wasgi's defaults (embedded mode)", value, a.name, st.name)
		}
	default:
		if group != nil && from == "WSGIProcessGroup" {
			t.ignored(group, "no WSGIDaemonProcess %s: app %q of site %q gets a private group", value, a.name, st.name)
		}
	}
	callableName := "application"
	if callable != nil {
		callableName = first(callable.Args)
	}
	if v, ok := a.opts["callable-object"]; ok {
		callableName = v
	}
	if !identRE.MatchString(callableName) {
		callableName = "application"
	} else if callable != nil {
		t.translated(callable, "the callable of app %q of site %q", a.name, st.name)
	}
	a.wsgi = ":" + callableName
}

// covering lists the directives that apply to an app, least specific
// first: the main server's, the <VirtualHost>'s, those of the <Directory>
// sections holding its script (shorter paths first) and of the <Files>
// sections matching it, then, unless dirsOnly, those of the <Location>
// sections covering its mount.
func (t *translator) covering(st *site, a *app, dirsOnly bool) []*Directive {
	var out []*Directive
	if st.inherit != nil {
		out = append(out, st.inherit.settings...)
	}
	out = append(out, st.scope.settings...)
	for _, b := range t.scriptBlocks(st, a) {
		out = append(out, b.body...)
	}
	if !dirsOnly {
		for _, b := range t.blocksOf(st, "location") {
			if sites.UnderPrefix(a.mount, b.arg()) {
				out = append(out, b.body...)
			}
		}
	}
	return out
}

// blocksOf lists the site's blocks of one kind, the main server's first,
// shorter paths first.
func (t *translator) blocksOf(st *site, kind string) []*block {
	if list, ok := st.byKind[kind]; ok {
		return list
	}
	var out []*block
	for _, s := range []*scope{st.inherit, st.scope} {
		if s == nil {
			continue
		}
		for _, b := range s.blocks {
			if b.kind == kind {
				out = append(out, b)
			}
		}
	}
	slices.SortStableFunc(out, func(x, y *block) int { return len(sites.TrimSlash(x.arg())) - len(sites.TrimSlash(y.arg())) })
	if st.byKind == nil {
		st.byKind = map[string][]*block{}
	}
	st.byKind[kind] = out
	return out
}

// scriptBlocks lists the <Directory> sections holding an app's script,
// shorter paths first, then the <Files> sections matching its name.
func (t *translator) scriptBlocks(st *site, a *app) []*block {
	if a.blocks != nil {
		return a.blocks
	}
	out := []*block{}
	for _, b := range t.blocksOf(st, "directory") {
		if underDir(a.script, t.filePath(b.arg())) {
			out = append(out, b)
		}
	}
	for _, b := range t.blocksOf(st, "files") {
		if b.parent != nil && !underDir(a.script, t.filePath(b.parent.arg())) {
			continue
		}
		if ok, _ := slashpath.Match(b.arg(), slashpath.Base(a.script)); ok {
			out = append(out, b)
		}
	}
	a.blocks = out
	return out
}

// underDir reports whether file is dir or below it.
func underDir(file, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return file == dir || dir == "" || strings.HasPrefix(file, dir+"/")
}

// setEnv adds a SetEnv to an app's env.
func (t *translator) setEnv(st *site, a *app, d *Directive, env map[string]int) {
	if len(d.Args) < 1 || len(d.Args) > 2 {
		t.ignored(d, "takes a name and a value")
		return
	}
	k, v := d.Args[0], ""
	if len(d.Args) == 2 {
		v = d.Args[1]
	}
	u := strings.ToUpper(k)
	switch {
	case k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) || !utf8.ValidString(k):
		t.ignored(d, "not a variable wasgi can set")
		return
	case abi.Reserved(u):
		t.ignored(d, "%s is set by the host for each request", k)
		return
	}
	if i, ok := env[k]; ok {
		a.env[i][1] = v
	} else {
		env[k] = len(a.env)
		a.env = append(a.env, [2]string{k, v})
	}
	t.approximated(d, "env of app %q of site %q: mod_wsgi puts it in the request's environ only; wasgi also in the app's os.environ", a.name, st.name)
}

// python derives the Python keys of an app from its script, its group's
// python-path and python-home, and WSGIPythonPath and WSGIPythonHome.
func (t *translator) python(a *app) {
	var path []string
	var notes []string
	switch {
	case a.group != nil && a.group.pythonPath != nil:
		path = a.group.pythonPath
		a.pythonHome = a.group.pythonHome
	case a.group != nil:
		a.pythonHome = a.group.pythonHome
	case t.pyPath != nil:
		list, home, n := splitPythonPath(first(t.pyPath.Args), t.pyHome != nil)
		for _, p := range list {
			path = append(path, t.filePath(p))
		}
		msg, status := fmt.Sprintf("python_path of app %q", a.name), Translated
		if home != "" {
			a.pythonHome = t.filePath(home)
			msg += "; " + strings.Join(n, "; ")
			status = Approximated
		}
		t.add(t.pyPath, "", status, "%s", msg)
	}
	if a.pythonHome == "" && t.pyHome != nil {
		a.pythonHome = t.filePath(first(t.pyHome.Args))
		t.translated(t.pyHome, "python_home of app %q; it must be a Python 3.11 virtual environment (lib/python3.11/site-packages)", a.name)
	}
	module, add, n := pythonModule(a.script, path)
	notes = append(notes, n...)
	a.pythonPath = slices.Clone(path)
	if add != "" {
		a.pythonPath = append(a.pythonPath, add)
	}
	a.wsgi = module + a.wsgi
	a.wsgiNote = "from " + a.script
	msg := fmt.Sprintf("wsgi = %q: mod_wsgi loads the script by its path; wasgi imports it as a module from python_path %s", a.wsgi, quoteList(a.pythonPath))
	if len(notes) > 0 {
		msg += "; " + strings.Join(notes, "; ")
	}
	a.wsgiNote = msg
}

// reportApps reports each WSGIScriptAlias once the site is complete.
func (t *translator) reportApps(st *site) {
	for _, a := range st.apps {
		group := "a private group with wasgi's defaults (embedded mode)"
		if a.group != nil {
			group = "group " + quote(a.group.name)
		}
		t.approximated(a.d, "[[site.app]] %q of site %q, mount %q, runtime = \"python\", %s; %s", a.name, st.name, a.mount, group, a.wsgiNote)
		for k := range a.opts {
			switch k {
			case "process-group":
				if a.group == nil && !strings.HasPrefix(a.opts[k], "%{") {
					t.add(a.d, clip(a.d.Name+" "+a.mount+" process-group="+a.opts[k]), Ignored, "no WSGIDaemonProcess %s: the app gets a private group", a.opts[k])
				}
			case "callable-object":
			case "application-group":
				t.add(a.d, clip(a.d.Name+" "+a.mount+" application-group="+a.opts[k]), Ignored, "every app has its own interpreter: apps never share one")
			case "pass-authorization":
			default:
				t.add(a.d, clip(a.d.Name+" "+a.mount+" "+k+"="+a.opts[k]), Ignored, "not a WSGIScriptAlias option wasgi knows")
			}
		}
	}
}

// aliases makes the site's Alias and DocumentRoot into [[site.alias]].
func (t *translator) aliases(st *site) {
	mounts := map[string]string{}
	for _, a := range st.apps {
		mounts[a.mount] = a.name
	}
	urls := map[string]bool{}
	add := func(d *Directive, url, path, how string) {
		if problem := sites.CheckURLPath(url); problem != "" {
			t.ignored(d, "URL %q %s", url, problem)
			return
		}
		if app, ok := mounts[sites.TrimSlash(url)]; ok {
			t.ignored(d, "URL %s is the mount of app %q, which takes it", url, app)
			return
		}
		if urls[url] {
			t.ignored(d, "an earlier Alias of site %q has the same URL", st.name)
			return
		}
		urls[url] = true
		st.aliases = append(st.aliases, &alias{url: url, path: path, d: d})
		t.add(d, "", Translated, "[[site.alias]] %s of site %q%s; a directory or location rule must grant it", url, st.name, how)
	}
	for _, d := range t.inherited(st, func(s *scope) []*Directive { return s.files }) {
		if len(d.Args) != 2 || d.Args[1] == "" {
			t.ignored(d, "takes a URL and a path")
			continue
		}
		url, path := d.Args[0], t.filePath(d.Args[1])
		folder := strings.HasSuffix(url, "/") || strings.HasSuffix(path, "/") || !strings.Contains(slashpath.Base(path), ".")
		how := ""
		if !strings.HasSuffix(url, "/") && !strings.HasSuffix(path, "/") {
			if folder {
				how = " (a folder, judging by its name; \"" + url + "\" redirects to \"" + url + "/\")"
			} else {
				how = " (one file, judging by its name)"
			}
		}
		if folder {
			url, path = withSlash(url), withSlash(path)
		}
		add(d, url, path, how)
	}
	roots := t.inherited(st, func(s *scope) []*Directive { return s.docRoots })
	if len(st.scope.docRoots) > 0 || st.inherit == nil {
		roots = st.scope.docRoots
	}
	for i, d := range roots {
		switch {
		case i < len(roots)-1:
			t.ignored(d, "a later DocumentRoot replaces it")
		case len(d.Args) != 1 || d.Args[0] == "":
			t.ignored(d, "takes one folder")
		case mounts["/"] != "":
			t.ignored(d, "app %q is mounted at / and takes every URL no alias takes", mounts["/"])
		default:
			add(d, "/", withSlash(t.filePath(d.Args[0])), " (DocumentRoot)")
		}
	}
}

func withSlash(p string) string {
	if strings.HasSuffix(p, "/") {
		return p
	}
	return p + "/"
}

// buildServer makes the [server] settings: listen, tls, max_body and the
// access log.
func (t *translator) buildServer() {
	for _, d := range t.listens {
		addr, ok := listenAddr(first(d.Args))
		switch {
		case !ok:
			t.ignored(d, "not an address wasgi can listen on")
		case slices.Contains(t.listen, addr):
			t.ignored(d, "%s is listed already", addr)
		default:
			t.listen = append(t.listen, addr)
			if len(d.Args) > 1 {
				t.approximated(d, "listen %q; the protocol %s is not needed: HTTPS comes from [server] tls, on every address", addr, d.Args[1])
			} else {
				t.translated(d, "listen %q", addr)
			}
		}
	}
	if len(t.listens) == 0 {
		for _, s := range t.vhosts {
			for _, a := range s.vhost.Args {
				_, port, err := net.SplitHostPort(a)
				if err != nil || port == "*" {
					continue
				}
				if addr, ok := listenAddr(port); ok && !slices.Contains(t.listen, addr) {
					t.listen = append(t.listen, addr)
					t.approximated(s.vhost, "listen %q: there is no Listen, so its port is used, on every interface", addr)
				}
			}
		}
	}
	t.buildTLS()
	t.buildBodyLimit()
	t.buildAccessLog()
}

// listenAddr turns a Listen argument into a host:port for wasgi.
func listenAddr(a string) (string, bool) {
	if _, err := strconv.ParseUint(a, 10, 16); err == nil {
		return ":" + a, true
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return "", false
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", false
	}
	if h := strings.ToLower(host); h != "" && (!sites.ValidHost(h) || strings.Contains(h, "*")) {
		if ip, err := netip.ParseAddr(host); err != nil || ip.Zone() != "" {
			return "", false
		}
	}
	return a, true
}

func (t *translator) buildTLS() {
	for _, d := range t.tls {
		arg := t.filePath(first(d.Args))
		switch strings.ToLower(d.Name) {
		case "sslcertificatefile":
			if t.cert == "" {
				t.cert = arg
				t.approximated(d, "tls cert, written commented out in [server]: wasgi serves HTTPS on every listen address with one certificate for all sites; uncomment it when that is what you want")
				continue
			}
		case "sslcertificatekeyfile":
			if t.key == "" {
				t.key = arg
				t.approximated(d, "tls key, written commented out in [server] (see SSLCertificateFile)")
				continue
			}
		case "sslcertificatechainfile":
			t.ignored(d, "put the chain after the certificate in the cert file")
			continue
		case "sslengine":
			t.approximated(d, "HTTPS comes from [server] tls, on every listen address (see SSLCertificateFile)")
			continue
		}
		t.ignored(d, "one certificate serves all sites: the first one is used")
	}
}

func (t *translator) buildBodyLimit() {
	var largest *Directive
	for _, d := range t.bodyLimit {
		n, err := strconv.ParseInt(first(d.Args), 10, 64)
		switch {
		case err != nil || n < 0:
			t.ignored(d, "want a number of bytes")
		case n == 0:
			t.ignored(d, "0 means no limit in Apache; wasgi always has one: max_body, 10MiB unless set")
		case n > t.maxBody:
			t.maxBody, largest = n, d
		}
	}
	for _, d := range t.bodyLimit {
		switch {
		case t.reported[d]:
		case d == largest:
			t.approximated(d, "max_body = %d: one limit for the whole server, the largest given", t.maxBody)
		default:
			t.approximated(d, "max_body is one limit for the whole server: the largest LimitRequestBody, %d at %s, is used", t.maxBody, at(largest))
		}
	}
}

func (t *translator) buildAccessLog() {
	for _, d := range t.logs {
		path := first(d.Args)
		format := ""
		if len(d.Args) > 1 {
			format = strings.ToLower(d.Args[1])
		}
		switch {
		case t.accessLog != "":
			t.ignored(d, "there is one access log for all sites: the first one is used")
		case strings.HasPrefix(path, "|"):
			t.ignored(d, "piped logs have no equivalent: wasgi writes the file and reopens it on SIGUSR1 (logrotate)")
		case path == "":
			t.ignored(d, "names no file")
		default:
			t.accessLog = t.filePath(path)
			if format == "combined" {
				t.translated(d, "access_log_file = %s, in the combined format", quote(t.accessLog))
			} else {
				t.approximated(d, "access_log_file = %s, in the combined format (wasgi writes combined or json)", quote(t.accessLog))
			}
		}
	}
}

// reportSettings reports server-level settings that no app used.
func (t *translator) reportSettings() {
	for _, g := range t.groups {
		if !g.used {
			t.approximated(g.d, "no app runs in group %s: it is written anyway", g.apache)
		}
	}
	if len(t.vhosts) > 0 {
		for _, list := range [][]*Directive{t.main.names, t.main.aliases, t.main.docRoots} {
			for _, d := range list {
				if !t.reported[d] {
					t.ignored(d, "the main server answers no request when there are <VirtualHost>s, and every <VirtualHost> has its own")
				}
			}
		}
	}
	if t.pyPath != nil && !t.reported[t.pyPath] {
		t.ignored(t.pyPath, "no app runs in embedded mode: daemon groups use python-path=")
	}
	if t.pyHome != nil && !t.reported[t.pyHome] {
		t.ignored(t.pyHome, "no app without python-home= uses it")
	}
}

// ignoredReason gives the reason each known directive without a wasgi
// equivalent is ignored, by lower-case name.
var ignoredReason = map[string]string{
	"loadmodule":              "wasgi has no modules: what it does is built in",
	"loadfile":                "wasgi has no modules: what it does is built in",
	"user":                    "isolation comes from the sandbox, not from Unix accounts",
	"group":                   "isolation comes from the sandbox, not from Unix accounts",
	"serveradmin":             "the host's error pages name no one",
	"servertokens":            "no Server header is sent",
	"serversignature":         "the host's error pages carry no signature",
	"errorlog":                "the host log goes to stderr (log_format); each event names its site and app",
	"loglevel":                "the host log has no level setting",
	"logformat":               "access_log is \"combined\" or \"json\"",
	"pidfile":                 "run wasgi under systemd or a container runtime (docs/deployment.md)",
	"timeout":                 "read_header_timeout bounds request headers; request_timeout bounds apps",
	"keepalive":               "keep-alive is always on; idle connections close after 120 s",
	"keepalivetimeout":        "keep-alive is always on; idle connections close after 120 s",
	"maxkeepaliverequests":    "keep-alive is always on; idle connections close after 120 s",
	"startservers":            "one process: each group's instances are its concurrency, max_connections bounds clients",
	"minspareservers":         "one process: each group's instances are its concurrency, max_connections bounds clients",
	"maxspareservers":         "one process: each group's instances are its concurrency, max_connections bounds clients",
	"maxrequestworkers":       "one process: each group's instances are its concurrency, max_connections bounds clients",
	"maxclients":              "one process: each group's instances are its concurrency, max_connections bounds clients",
	"serverlimit":             "one process: each group's instances are its concurrency, max_connections bounds clients",
	"threadlimit":             "one process: each group's instances are its concurrency, max_connections bounds clients",
	"threadsperchild":         "one process: each group's instances are its concurrency, max_connections bounds clients",
	"minsparethreads":         "one process: each group's instances are its concurrency, max_connections bounds clients",
	"maxsparethreads":         "one process: each group's instances are its concurrency, max_connections bounds clients",
	"maxconnectionsperchild":  "one process: each group's max_requests recycles instances",
	"maxrequestsperchild":     "one process: each group's max_requests recycles instances",
	"directoryindex":          "a folder serves its index.html, nothing else",
	"addtype":                 "Content-Type comes from the file extension",
	"adddefaultcharset":       "Content-Type comes from the file extension",
	"typesconfig":             "Content-Type comes from the file extension",
	"addencoding":             "FILE.gz and FILE.br siblings are served by themselves",
	"addhandler":              "no handlers: apps are mounted with WSGIScriptAlias",
	"sethandler":              "no handlers: apps are mounted with WSGIScriptAlias",
	"header":                  "response headers are the app's to set",
	"requestheader":           "request headers reach the app as sent",
	"rewriteengine":           "no URL rewriting: do it in the app",
	"rewriterule":             "no URL rewriting: do it in the app",
	"rewritecond":             "no URL rewriting: do it in the app",
	"rewritebase":             "no URL rewriting: do it in the app",
	"rewritemap":              "no URL rewriting: do it in the app",
	"redirect":                "no redirects: answer them from an app",
	"redirectmatch":           "no redirects: answer them from an app",
	"redirectpermanent":       "no redirects: answer them from an app",
	"redirecttemp":            "no redirects: answer them from an app",
	"errordocument":           "error pages come from the host or the app",
	"hostnamelookups":         "no reverse DNS: logs have addresses",
	"usecanonicalname":        "SERVER_NAME is the request's host",
	"accessfilename":          "no .htaccess files: access rules are in the TOML",
	"allowencodedslashes":     "an encoded slash is always refused (400)",
	"traceenable":             "TRACE reaches the app like any method",
	"enablesendfile":          "file serving is built in",
	"enablemmap":              "file serving is built in",
	"protocols":               "HTTP/2 comes with tls, by ALPN",
	"namevirtualhost":         "every site answers on every listen address, by host name",
	"passenv":                 "nothing of the host's environment reaches an app: set values with SetEnv or env",
	"scriptalias":             "CGI: build each script as a WASI command and declare it as a [[site.app]] with abi = \"cgi\"",
	"scriptaliasmatch":        "regular expressions: declare each app with [[site.app]]",
	"aliasmatch":              "regular expressions: declare each alias with [[site.alias]]",
	"wsgiscriptaliasmatch":    "regular expressions: declare each app with [[site.app]]",
	"proxypass":               "wasgi is not a proxy",
	"proxypassreverse":        "wasgi is not a proxy",
	"proxyrequests":           "wasgi is not a proxy",
	"proxypreservehost":       "wasgi is not a proxy",
	"limitrequestfields":      "request headers may total 64 KiB",
	"limitrequestfieldsize":   "request headers may total 64 KiB",
	"limitrequestline":        "request headers may total 64 KiB",
	"mutex":                   "one process: no locks between processes",
	"wsgisocketprefix":        "no sockets between host and apps",
	"wsgiacceptmutex":         "one process: no locks between processes",
	"wsgilazyinitialization":  "Python starts in each instance, in the sandbox",
	"wsgirestrictembedded":    "every app runs in a sandboxed instance; nothing is embedded in the host",
	"wsgirestrictstdin":       "an app's stdin is empty",
	"wsgirestrictstdout":      "an app's stdout goes to the host log",
	"wsgirestrictsignal":      "apps cannot install signal handlers",
	"wsgipythonoptimize":      "the Python runtime's settings are fixed",
	"wsgipythoneggs":          "the Python runtime's settings are fixed",
	"wsgipythonwarnings":      "the Python runtime's settings are fixed",
	"wsgiverbosedebugging":    "the Python runtime's settings are fixed",
	"wsgiscriptreloading":     "a reload (SIGHUP) starts new instances",
	"wsgiaccessscript":        "no access scripts: use ip rules, or auth",
	"wsgidispatchscript":      "each app is its own module: no dispatch",
	"wsgihandlerscript":       "no handlers: apps are mounted with WSGIScriptAlias",
	"wsgichunkedrequest":      "chunked request bodies are always accepted",
	"wsgierroroverride":       "error pages come from the app",
	"wsgimapheadtoget":        "HEAD reaches the app as HEAD",
	"wsgitrustedproxyheaders": "no proxy headers are trusted; REMOTE_ADDR is the TCP peer",
	"wsgitrustedproxies":      "no proxy headers are trusted; REMOTE_ADDR is the TCP peer",
	"wsgidestroyinterpreter":  "an instance is discarded whole",
	"indexoptions":            "listings are plain (Options Indexes)",
	"indexignore":             "listings are plain (Options Indexes)",
	"directoryslash":          "a folder URL without its slash is always redirected",
}

// ignoreKnown reports a directive wasgi has nothing for, with the reason
// when it is known.
func (t *translator) ignoreKnown(d *Directive) {
	name := strings.ToLower(d.Name)
	if why, ok := ignoredReason[name]; ok {
		t.ignored(d, "%s", why)
		return
	}
	if strings.HasPrefix(name, "ssl") {
		t.ignored(d, "TLS settings are fixed: TLS 1.2 or later, HTTP/2 by ALPN")
		return
	}
	t.ignored(d, "no wasgi equivalent")
}
