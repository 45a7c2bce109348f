// Command subpath is an app mounted below the root of its site (mount =
// "/mysite"), like `WSGIScriptAlias /mysite /path/to/wsgi.py`. It builds
// every link from SCRIPT_NAME, so the same module works at any mount.
package main

import (
	"fmt"
	"html"
	"net/http"

	"github.com/wasgi/wasgi/abi/guest"
)

func init() {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		base := guest.ScriptName(r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>mysite</title>\n<h1>mysite, mounted at %q</h1>\n", html.EscapeString(base))
		fmt.Fprintf(w, "<p><a href=\"%s/about/\">About</a> <a href=\"%s/items/42\">Item 42</a></p>\n",
			html.EscapeString(base), html.EscapeString(base))
	})
	mux.HandleFunc("/about/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<p>About. <a href=\"%s/\">Home</a></p>\n", html.EscapeString(guest.ScriptName(r)))
	})
	mux.HandleFunc("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "item %s (SCRIPT_NAME=%q PATH_INFO=%q)\n", r.PathValue("id"), guest.ScriptName(r), guest.PathInfo(r))
	})
	// The mux routes on PATH_INFO, the path below the mount.
	guest.Serve(guest.StripScriptName(mux))
}

func main() {}
