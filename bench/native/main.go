// Command native serves, with plain net/http, the same work as the wasgi
// bench apps: the limit the sandbox is measured against.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "listen address")
	static := flag.String("static", "", "folder served at /static/")
	flag.Parse()
	mux := http.NewServeMux()
	if *static != "" {
		mux.Handle("/static/", http.StripPrefix("/static/", http.FileServer(http.Dir(*static))))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Hello from wasgi! You asked for %s\n", r.URL.Path)
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		// The same listing as the guest's: a CGI-style environ, sorted.
		env := map[string]string{
			"REQUEST_METHOD": r.Method, "SCRIPT_NAME": "", "PATH_INFO": r.URL.Path,
			"QUERY_STRING": r.URL.RawQuery, "REQUEST_URI": r.RequestURI, "SERVER_PROTOCOL": r.Proto,
			"REMOTE_ADDR": r.RemoteAddr, "HTTP_HOST": r.Host, "wsgi.url_scheme": "http",
		}
		for k := range r.Header {
			env["HTTP_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_"))] = r.Header.Get(k)
		}
		keys := make([]string, 0, len(env))
		for k := range env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%s=%s\n", k, env[k])
		}
		osenv := os.Environ()
		sort.Strings(osenv)
		for _, kv := range osenv {
			fmt.Fprintf(w, "os:%s\n", kv)
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		io.Copy(w, r.Body)
	})
	if err := http.ListenAndServe(*addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
