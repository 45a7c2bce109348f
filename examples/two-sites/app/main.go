// Command app is the two-sites example: the same module serves two sites,
// each with its own settings, its own data directory and its own memory.
// Each page shows what the app can see: its settings module, its whole
// process environment, its files and a counter that lives in its memory.
// Nothing of the other site is visible, which is the point.
package main

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync/atomic"

	"github.com/wasgi/wasgi/abi/guest"
)

var hits atomic.Int64

func init() {
	guest.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "site: %s\n", guest.Environ(r)["WASGI_SITE"])
		fmt.Fprintf(w, "DJANGO_SETTINGS_MODULE: %s\n", os.Getenv("DJANGO_SETTINGS_MODULE"))
		fmt.Fprintf(w, "hits in this instance: %d\n", hits.Add(1))
		fmt.Fprintln(w, "\nprocess environment:")
		env := os.Environ()
		sort.Strings(env)
		for _, kv := range env {
			fmt.Fprintf(w, "  %s\n", kv)
		}
		fmt.Fprintln(w, "\nfiles in /data:")
		entries, err := os.ReadDir("/data")
		if err != nil {
			fmt.Fprintf(w, "  (%v)\n", err)
		}
		for _, e := range entries {
			fmt.Fprintf(w, "  %s\n", e.Name())
		}
		fmt.Fprintln(w, "\nrequest environ:")
		keys := make([]string, 0, len(guest.Environ(r)))
		for k := range guest.Environ(r) {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s=%s\n", k, guest.Environ(r)[k])
		}
	})
}

func main() {}
