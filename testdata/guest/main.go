// Command guest is the host's test app: one route per behaviour the
// integration tests need, well-behaved or hostile. Hostile routes call the
// ABI directly with pointers and lengths outside the guest's memory.
package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/wasgi/wasgi/abi/guest"
	"github.com/wasgi/wasgi/abi/guest/auth"
)

//go:wasmimport wasgi environ_read
func environRead(buf, n uint32) int32

//go:wasmimport wasgi body_read
func bodyRead(buf, n uint32) int32

//go:wasmimport wasgi start_response
func startResponse(status, statusLen, headers, headersLen uint32) int32

//go:wasmimport wasgi body_write
func bodyWrite(buf, n uint32) int32

//go:wasmimport wasgi log
func logImport(level int32, buf, n uint32)

//go:wasmimport wasgi auth_user
func authUser(buf, n uint32) int32

// bad is a pointer far outside a Go guest's memory.
const bad = 0xFFFF_0000

func ptr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

var counter int

// checks counts wasgi_check_password calls in this instance.
var checks int

// users is the test user database: password and groups.
var users = map[string]struct {
	password string
	groups   []string
}{
	"alice":  {"right", []string{"staff", "users"}},
	"bob":    {"pw", []string{"users"}},
	"élodie": {"pässwörd", []string{"staff"}},
}

func init() {
	auth.CheckPassword(func(user, password string) (ok, known bool) {
		checks++
		switch user {
		case "trap":
			authUser(bad, 10) // out of bounds: the host must fail closed
		case "spin":
			for {
				counter++
			}
		case "panic":
			panic("auth db down")
		}
		u, known := users[user]
		return known && u.password == password, known
	})
	auth.GroupsForUser(func(user string) []string { return users[user].groups })
}

func init() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", env) // any other path: the environ
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		n, err := io.Copy(w, r.Body)
		if err != nil {
			fmt.Fprintf(os.Stderr, "echo: %d bytes: %v\n", n, err)
		}
	})
	// /stream writes a first chunk, flushes it, then waits for the client's
	// body before finishing: the client can only send the body after it saw
	// the first chunk, so the test deadlocks unless Flush works.
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "then %s\n", b)
	})
	mux.HandleFunc("/authcalls", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d", checks)
	})
	mux.HandleFunc("/counter", func(w http.ResponseWriter, r *http.Request) {
		counter++
		fmt.Fprintf(w, "%d", counter)
	})
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	})
	mux.HandleFunc("/spin", func(w http.ResponseWriter, r *http.Request) {
		for {
			counter++
		}
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Hour)
	})
	// /busy computes for ?ms= milliseconds, then answers: a runaway that
	// does end, for groups whose guests cannot be stopped.
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		for end := time.Now().Add(time.Duration(ms) * time.Millisecond); time.Now().Before(end); {
			counter++
		}
		fmt.Fprintf(w, "busy %d ms", ms)
	})
	mux.HandleFunc("/alloc", func(w http.ResponseWriter, r *http.Request) {
		// Large blocks reach any memory_limit in a few steps, so the trap
		// comes long before request_timeout even on a loaded machine.
		var keep [][]byte
		for {
			keep = append(keep, make([]byte, 8<<20))
		}
	})
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		os.Exit(3)
	})
	mux.HandleFunc("/noresponse", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler) // the SDK returns non-zero, nothing sent
	})
	mux.HandleFunc("/midpanic", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("after the headers")
	})
	mux.HandleFunc("/flood", func(w http.ResponseWriter, r *http.Request) {
		for i := range 100000 {
			fmt.Fprintf(os.Stderr, "flood line %d\n", i)
		}
		io.WriteString(w, "flooded")
	})
	mux.HandleFunc("/stderr100", func(w http.ResponseWriter, r *http.Request) {
		line := []byte(strings.Repeat("x", 1023) + "\n")
		for range 100 << 10 { // 100 MiB
			os.Stderr.Write(line)
		}
		io.WriteString(w, "wrote 100 MiB")
	})
	mux.HandleFunc("/recurse", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, recurse(1))
	})
	mux.HandleFunc("/log", func(w http.ResponseWriter, r *http.Request) {
		guest.Log(2, "hello from the guest log")
		fmt.Fprintln(os.Stderr, "hello from stderr")
		io.WriteString(w, "logged")
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("name"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	})
	// /fill writes /data/fill in 64 KiB blocks until an error (or 64 MiB),
	// or removes it with ?rm=1: a guest filling its rw dir's quota.
	mux.HandleFunc("/fill", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("rm") != "" {
			fmt.Fprint(w, os.Remove("/data/fill"))
			return
		}
		f, err := os.Create("/data/fill")
		if err != nil {
			fmt.Fprintf(w, "create: %v", err)
			return
		}
		defer f.Close()
		block, total := make([]byte, 64<<10), 0
		for total < 64<<20 {
			n, err := f.Write(block)
			total += n
			if err != nil {
				fmt.Fprintf(w, "wrote %d: %v", total, errors.Unwrap(err))
				return
			}
		}
		fmt.Fprintf(w, "wrote %d", total)
	})
	// /plant makes a symlink in the rw preopen pointing out of it, then
	// tries to read through it: the host must refuse.
	mux.HandleFunc("/plant", func(w http.ResponseWriter, r *http.Request) {
		target := r.URL.Query().Get("target")
		os.Remove("/data/planted")
		if err := os.Symlink(target, "/data/planted"); err != nil {
			fmt.Fprintf(w, "symlink: %v\n", err)
		}
		b, err := os.ReadFile("/data/planted")
		fmt.Fprintf(w, "read: %q %v\n", b, err)
	})
	mux.HandleFunc("/abi/", func(w http.ResponseWriter, r *http.Request) {
		hostile(w, strings.TrimPrefix(r.URL.Path, "/abi/"))
	})
	// Route on PATH_INFO, so the app works at any mount.
	guest.Serve(guest.StripScriptName(mux))
}

// recurse never returns: the stack (in linear memory for Go) grows until
// the memory limit or Go's stack limit stops it.
func recurse(n int) int {
	var pad [256]byte
	pad[n%256] = byte(n)
	return recurse(n+1) + int(pad[0])
}

func env(w http.ResponseWriter, r *http.Request) {
	env := guest.Environ(r)
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
}

// hostile calls one ABI import with arguments a well-behaved guest never
// passes: out-of-bounds pointers must trap, and the host answers 500.
func hostile(w http.ResponseWriter, name string) {
	buf := make([]byte, 16)
	st := []byte("200 OK")
	switch name {
	case "environ_read":
		environRead(bad, 16)
	case "environ_read_len":
		environRead(ptr(buf), 0xFFFF_FFF0) // length runs off the end of memory
	case "body_read":
		bodyRead(bad, 16)
	case "start_response_status":
		startResponse(bad, 6, ptr(buf), 0)
	case "start_response_headers":
		startResponse(ptr(st), uint32(len(st)), bad, 100)
	case "body_write":
		bodyWrite(bad, 10)
	case "log":
		logImport(1, bad, 10)
	case "auth_user":
		authUser(bad, 10)
	}
	io.WriteString(w, "survived "+name)
}

func main() {}
