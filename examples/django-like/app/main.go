// Command app is the django-like example: the shape of the classic
// "Django with Apache and mod_wsgi" deployment. The app runs at "/"; the web
// server (not the app) serves /static/, /media/, /robots.txt and
// /favicon.ico; uploads are written by the app into /media, a preopened
// read-write folder, and served back by the /media/ alias. File names may
// be any UTF-8: there is no locale to configure.
package main

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/wasgi/wasgi/abi/guest"
)

// mediaDir is where the host preopened the site's media folder.
const mediaDir = "/media"

func init() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", home)
	mux.HandleFunc("POST /upload", upload)
	mux.HandleFunc("GET /admin/", admin)
	guest.Serve(guest.StripScriptName(mux))
}

func page(w http.ResponseWriter, r *http.Request, title, body string) {
	base := guest.ScriptName(r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html>
<meta charset="utf-8">
<title>%s</title>
<link rel="stylesheet" href="/static/css/site.css">
<h1>%s</h1>
%s
<p><a href="%s/">home</a> · <a href="%s/admin/">admin</a> · <a href="/robots.txt">robots.txt</a></p>
`, html.EscapeString(title), html.EscapeString(title), body, base, base)
}

func home(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	b.WriteString(`<p>DJANGO_SETTINGS_MODULE = ` + html.EscapeString(os.Getenv("DJANGO_SETTINGS_MODULE")) + `</p>
<form method="post" action="upload" enctype="multipart/form-data">
<input type="file" name="file"> <button>Upload to /media/</button>
</form>
<h2>Media</h2><ul>`)
	entries, _ := os.ReadDir(mediaDir)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, `<li><a href="/media/%s">%s</a></li>`, (&url.URL{Path: n}).EscapedPath(), html.EscapeString(n))
	}
	b.WriteString("</ul>")
	page(w, r, "django-like", b.String())
}

// upload stores one file in /media under its own (UTF-8) name.
func upload(w http.ResponseWriter, r *http.Request) {
	f, hdr, err := r.FormFile("file")
	if err != nil {
		http.Error(w, "no file: "+err.Error(), http.StatusBadRequest)
		return
	}
	defer f.Close()
	name := path.Base(strings.ReplaceAll(hdr.Filename, `\`, "/"))
	if name == "." || name == "/" || strings.HasPrefix(name, ".") || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		http.Error(w, "bad file name", http.StatusBadRequest)
		return
	}
	out, err := os.OpenFile(path.Join(mediaDir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, err = io.Copy(out, f)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, guest.ScriptName(r)+"/", http.StatusSeeOther)
}

func admin(w http.ResponseWriter, r *http.Request) {
	page(w, r, "admin", `<link rel="stylesheet" href="/static/admin/css/base.css">
<p class="admin">The admin, reachable only from the addresses its [[site.location]] grants.</p>`)
}

func main() {}
