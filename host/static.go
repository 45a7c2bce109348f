package host

import (
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// alias is a static alias: a folder (url ends in "/") or a single file.
type alias struct {
	url  string
	path string   // absolute folder, or the file itself
	root *os.Root // the folder, or the file's folder: nothing above it is reachable
	dir  *os.File // the same folder, where openNoFollow starts
	file bool
}

func openAlias(url, p string, file bool) (*alias, error) {
	dir := p
	if file {
		dir = filepath.Dir(p)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("alias %s: %w", url, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("alias %s: %w", url, err)
	}
	return &alias{url: url, path: p, root: root, dir: d, file: file}, nil
}

func (a *alias) close() {
	a.dir.Close()
	a.root.Close()
}

// resolve maps a cleaned URL path under the alias to the name to open in
// a.root (slash-separated, never absolute, never climbing with "..") and
// the file's path for directory rules. It refuses backslashes and invalid
// UTF-8, which no file of a web site should need.
func (a *alias) resolve(p string) (rel, fsPath string, ok bool) {
	if a.file {
		return filepath.Base(a.path), a.path, p == a.url
	}
	rel, ok = strings.CutPrefix(p, a.url)
	if !ok || strings.IndexByte(rel, '\\') >= 0 || strings.IndexByte(rel, 0) >= 0 || !utf8.ValidString(rel) {
		return "", "", false
	}
	dirOnly := strings.HasSuffix(rel, "/")
	rel = path.Clean("/" + rel)[1:]
	if rel == "" {
		rel = "."
	} else if dirOnly {
		rel += "/" // "file.txt/" must not open file.txt
	}
	return rel, filepath.Join(a.path, filepath.FromSlash(rel)), true
}

// serveAlias serves a static file under an alias. p is the cleaned URL
// path; loc is the location rule that already admitted the request, if any.
//
// Files are opened without following any symbolic link (openNoFollow), so
// no byte outside the alias folder is ever served and the file served is
// the one at fsPath, whose directory rules admitted it; unless the
// directory rule has FollowSymLinks, which follows links anywhere.
func (h *Host) serveAlias(w *logWriter, r *http.Request, q *request, s *state, st *site, a *alias, p string, loc *accessRule) {
	if !a.file && p+"/" == a.url {
		redirectSlash(w, r, p)
		return
	}
	rel, fsPath, ok := a.resolve(p)
	if !ok {
		h.fail(w, r, q, refuse(http.StatusBadRequest, nil))
		return
	}
	dir, opts := st.directory(fsPath)
	if loc == nil {
		if dir == nil {
			h.fail(w, r, q, refuse(http.StatusForbidden, nil)) // no rule grants it
			return
		}
		if !h.admit(w, r, q, s, st, dir) {
			return
		}
	}
	open := func(name string) (*os.File, error) {
		if opts.FollowSymLinks {
			return os.Open(filepath.Join(a.root.Name(), filepath.FromSlash(name)))
		}
		return a.openNoFollow(name)
	}
	f, err := open(rel)
	if err != nil {
		h.fail(w, r, q, fileError(err))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		h.fail(w, r, q, fileError(err))
		return
	}
	if fi.IsDir() {
		if !strings.HasSuffix(p, "/") {
			redirectSlash(w, r, p)
			return
		}
		if idx, err := open(path.Join(rel, "index.html")); err == nil {
			defer idx.Close()
			if ifi, err := idx.Stat(); err == nil && ifi.Mode().IsRegular() {
				serveFile(w, r, idx, ifi, "index.html", "")
				return
			}
		}
		if !opts.Indexes {
			h.fail(w, r, q, refuse(http.StatusForbidden, nil))
			return
		}
		listDir(w, r, f, p)
		return
	}
	if !fi.Mode().IsRegular() {
		h.fail(w, r, q, refuse(http.StatusForbidden, nil))
		return
	}
	// A precompressed sibling (app.js.br, app.js.gz) when the client takes it.
	for _, enc := range []struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if !acceptsEncoding(r, enc.name) {
			continue
		}
		cf, err := open(rel + enc.ext)
		if err != nil {
			continue
		}
		defer cf.Close()
		if cfi, err := cf.Stat(); err == nil && cfi.Mode().IsRegular() {
			serveFile(w, r, cf, cfi, fi.Name(), enc.name)
			return
		}
	}
	serveFile(w, r, f, fi, fi.Name(), "")
}

// staticMinRate is the slowest a client may read a static file, in bytes
// per second, before its connection is cut.
const staticMinRate = 16 << 10

// serveFile answers with http.ServeContent, which does Range (single and
// multipart, 206/416), If-None-Match/If-Modified-Since (304),
// If-Match/If-Unmodified-Since (412), HEAD, Content-Length and
// Content-Type by extension with sniffing as the fallback; and, from an
// *os.File, sendfile. name gives the Content-Type; encoding, when set,
// marks f as a precompressed variant of the file name.
func serveFile(w http.ResponseWriter, r *http.Request, f *os.File, fi fs.FileInfo, name, encoding string) {
	// Bound the transfer: a minute, plus the time a client reading at
	// staticMinRate needs for the file, so a stalled reader cannot hold the
	// connection (and the config it was served from) forever.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute + time.Duration(fi.Size()/staticMinRate)*time.Second))
	hd := w.Header()
	etag := fmt.Sprintf(`"%x-%x`, fi.ModTime().UnixNano(), fi.Size())
	if encoding != "" {
		hd.Set("Content-Encoding", encoding)
		etag += "-" + encoding
		if ct := mime.TypeByExtension(filepath.Ext(name)); ct != "" {
			hd.Set("Content-Type", ct)
		} else {
			hd.Set("Content-Type", "application/octet-stream")
		}
	}
	hd.Set("ETag", etag+`"`)
	if encoding != "" {
		hd.Add("Vary", "Accept-Encoding")
	}
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

// acceptsEncoding reports whether Accept-Encoding lists enc with a
// non-zero q.
func acceptsEncoding(r *http.Request, enc string) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(name), enc) {
				continue
			}
			params = strings.ReplaceAll(params, " ", "")
			return params != "q=0" && params != "q=0.0" && params != "q=0.00" && params != "q=0.000"
		}
	}
	return false
}

// redirectSlash redirects a folder's URL to the same with a final slash.
// The target is built from the cleaned path p, never from what the client
// sent: "//evil.example/../static" must not become a Location that a
// browser reads as another host.
func redirectSlash(w http.ResponseWriter, r *http.Request, p string) {
	target := (&url.URL{Path: strings.TrimSuffix(p, "/") + "/"}).EscapedPath()
	if strings.HasPrefix(target, "//") {
		target = "/." + target
	}
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, http.StatusMovedPermanently)
}

// listDir writes an HTML index of a folder (only with Indexes). Names are
// HTML-escaped for the text and percent-escaped for the links, so any
// UTF-8 name lists and links correctly.
func listDir(w http.ResponseWriter, r *http.Request, d *os.File, p string) {
	entries, err := d.ReadDir(-1)
	if err != nil {
		http.Error(w, "cannot list", http.StatusInternalServerError)
		return
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	title := html.EscapeString(p)
	fmt.Fprintf(w, "<!doctype html>\n<meta charset=\"utf-8\">\n<title>Index of %s</title>\n<h1>Index of %s</h1>\n<ul>\n", title, title)
	if p != "/" {
		io.WriteString(w, "<li><a href=\"../\">../</a></li>\n")
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			name += "/"
		}
		var info string
		if fi, err := e.Info(); err == nil && !e.IsDir() {
			info = fmt.Sprintf(" %d bytes, %s", fi.Size(), fi.ModTime().UTC().Format(time.DateTime))
		}
		href := (&url.URL{Path: name}).EscapedPath()
		if strings.Contains(name, ":") { // "a:b" would read as a URL scheme
			href = "./" + href
		}
		fmt.Fprintf(w, "<li><a href=\"%s\">%s</a>%s</li>\n", html.EscapeString(href), html.EscapeString(name), info)
	}
	io.WriteString(w, "</ul>\n")
}
