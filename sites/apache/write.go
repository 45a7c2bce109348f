package apache

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// commentColumn is where trailing comments start, when the line is short
// enough.
const commentColumn = 40

// tomlWriter writes TOML by hand, so that every table and key can carry a
// comment saying where it comes from.
type tomlWriter struct {
	b      strings.Builder
	indent string
}

// line writes text with an optional trailing comment.
func (w *tomlWriter) line(text, comment string) {
	text = w.indent + text
	w.b.WriteString(text)
	if comment != "" {
		pad := max(1, commentColumn-utf8.RuneCountInString(text))
		w.b.WriteString(strings.Repeat(" ", pad) + "# " + oneLine(comment))
	}
	w.b.WriteByte('\n')
}

// table starts a table after a blank line.
func (w *tomlWriter) table(header, comment string) {
	w.b.WriteByte('\n')
	w.line(header, comment)
}

// comment writes a comment line.
func (w *tomlWriter) comment(text string) { w.line("# "+oneLine(text), "") }

func (w *tomlWriter) str(key, value, comment string) {
	w.line(key+" = "+quote(value), comment)
}

func (w *tomlWriter) strs(key string, values []string, comment string) {
	w.line(key+" = "+quoteList(values), comment)
}

func (w *tomlWriter) int(key string, n int64, comment string) {
	w.line(key+" = "+strconv.FormatInt(n, 10), comment)
}

// oneLine keeps a comment on one line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// quote returns s as a TOML basic string. Invalid UTF-8 becomes U+FFFD,
// which TOML requires.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// key returns k as a TOML key: bare when it can be, else quoted.
func key(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return quote(k)
		}
	}
	return k
}

// formatSize writes a byte count in the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// at names where a directive is: "file:line".
func at(d *Directive) string { return fmt.Sprintf("%s:%d", d.File, d.Line) }

// sources lists the files named to the parser, in order.
func sources(conf []*Directive) []string {
	var out []string
	for _, d := range conf {
		if !slices.Contains(out, d.File) {
			out = append(out, d.File)
		}
	}
	return out
}

// render writes the translation as TOML, each table with a comment naming
// the directive it comes from.
func (t *translator) render(conf []*Directive) []byte {
	w := &tomlWriter{}
	from := strings.Join(sources(conf), ", ")
	if from == "" {
		from = "an empty configuration"
	}
	w.comment("wasgi configuration made by `wasgi import apache` from " + from + ".")
	w.comment("Each table names the Apache directive it comes from (file:line). The")
	w.comment("report of the import says what was approximated or ignored, and why.")
	w.comment("Python apps need their python_path folders and a Python 3.11 python_home.")

	if len(t.listen) > 0 || t.cert != "" || t.key != "" || t.maxBody > 0 || t.accessLog != "" {
		w.table("[server]", "")
		if len(t.listen) > 0 {
			src := "Listen"
			if len(t.listens) == 0 {
				src = "the ports of the <VirtualHost>s"
			}
			w.strs("listen", t.listen, src)
		}
		if t.cert != "" || t.key != "" {
			w.line("# tls = { cert = "+quote(t.cert)+", key = "+quote(t.key)+" }", "SSLCertificateFile: HTTPS on every listen address")
		}
		if t.maxBody > 0 {
			w.int("max_body", t.maxBody, "LimitRequestBody")
		}
		if t.accessLog != "" {
			w.str("access_log_file", t.accessLog, "CustomLog")
		}
	}

	for _, g := range t.groups {
		w.table("[groups."+key(g.name)+"]", "WSGIDaemonProcess "+g.apache+" ("+at(g.d)+")")
		w.int("instances", g.instances, g.instNote)
		if g.minInstances > 0 {
			w.int("min_instances", g.minInstances, g.minNote)
		}
		if g.maxRequests > 0 {
			w.int("max_requests", g.maxRequests, "maximum-requests")
		}
		for i, k := range []string{"request_timeout", "queue_timeout", "idle_timeout"} {
			if g.timeouts[i] > 0 {
				w.str(k, fmt.Sprintf("%ds", g.timeouts[i]), "")
			}
		}
		if g.memory > 0 {
			w.str("memory_limit", formatSize(g.memory), g.memNote)
		}
	}

	for _, st := range t.sites {
		src := "the main server: there is no <VirtualHost>"
		if v := st.scope.vhost; v != nil {
			src = v.String() + " (" + at(v) + ")"
		}
		w.indent = ""
		w.table("[[site]]", src)
		w.str("name", st.name, "")
		hostsFrom := "ServerName, ServerAlias"
		if len(st.scope.names)+len(st.scope.aliases) == 0 {
			hostsFrom = "no ServerName"
		}
		if slices.Contains(st.hosts, "*") {
			hostsFrom += "; \"*\": the default site"
		}
		w.strs("hosts", st.hosts, hostsFrom)
		w.indent = "  "
		for _, a := range st.apps {
			w.table("[[site.app]]", "WSGIScriptAlias "+a.mount+" ("+at(a.d)+")")
			w.str("name", a.name, "")
			w.str("mount", a.mount, "")
			w.str("runtime", "python", "")
			w.str("wsgi", a.wsgi, "from "+a.script)
			if len(a.pythonPath) > 0 {
				w.strs("python_path", a.pythonPath, "")
			}
			if a.pythonHome != "" {
				w.str("python_home", a.pythonHome, "a Python 3.11 virtual environment")
			}
			if a.group != nil {
				w.str("group", a.group.name, "")
			}
			if len(a.env) > 0 {
				kv := make([]string, len(a.env))
				for i, e := range a.env {
					kv[i] = key(e[0]) + " = " + quote(e[1])
				}
				w.line("env = { "+strings.Join(kv, ", ")+" }", "SetEnv")
			}
			if a.checkPassword != "" {
				w.str("check_password", a.checkPassword, "WSGIAuthUserScript")
			}
			if a.groupsForUser != "" {
				w.str("groups_for_user", a.groupsForUser, "WSGIAuthGroupScript")
			}
		}
		for _, al := range st.aliases {
			w.table("[[site.alias]]", al.d.Name+" "+al.url+" ("+at(al.d)+")")
			w.str("url", al.url, "")
			w.str("path", al.path, "")
		}
		for _, r := range st.dirs {
			t.writeRule(w, "[[site.directory]]", "path", r)
		}
		for _, r := range st.locs {
			t.writeRule(w, "[[site.location]]", "url", r)
		}
	}
	return []byte(w.b.String())
}

func (t *translator) writeRule(w *tomlWriter, table, k string, r *rule) {
	src := r.comment
	if src == "" {
		src = r.d.String()
	}
	w.table(table, src+" ("+at(r.d)+")")
	w.str(k, r.at, "")
	if r.auth != "" {
		w.str("auth", r.auth, "checks the passwords")
		if r.realm != "" {
			w.str("realm", r.realm, "AuthName")
		}
	}
	if r.require != nil {
		w.strs("require", r.require, "")
	}
	if r.options != nil {
		w.strs("options", r.options, "Options")
	}
	if r.passAuth {
		w.line("pass_authorization = true", "WSGIPassAuthorization On")
	}
}
