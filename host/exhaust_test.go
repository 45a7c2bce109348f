package host

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/wasgi/wasgi/internal/testwasm"
	"github.com/wasgi/wasgi/sandbox"
)

// exhaustSites: site "hog" runs testdata/exhaust with a preopened /data
// in a group of 4 instances; site "quiet" is the Go guest in the default
// group, with the same /data.
func exhaustSites(t *testing.T) string {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "hello.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`
[server]
cache_dir = "{cache}"
access_log = "off"
[groups.hog]
instances = 4
request_timeout = "20s"
[[site]]
name = "hog"
hosts = ["hog.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = %q
  group = "hog"
  dirs = [{ guest = "/data", host = %q, mode = "ro" }]
[[site]]
name = "quiet"
hosts = ["quiet.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
  dirs = [{ guest = "/data", host = %q, mode = "ro" }]
`, testwasm.BuildC(t, "testdata/exhaust/exhaust.c", true), data, data)
}

// openResult parses the exhaust guest's "held=H errno=E".
func openResult(t *testing.T, body string) (held, errno int) {
	t.Helper()
	if _, err := fmt.Sscanf(body, "held=%d errno=%d", &held, &errno); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	return held, errno
}

// TestOpenFilesBounded: a guest that opens files in a loop and never
// closes them, hammered from several connections, gets EMFILE once its
// instance holds sandbox.MaxOpenFiles; the files never add up to the
// process's limit, and another site keeps answering. With the guests'
// share of descriptors used up (here lowered to 40), an open gets ENFILE
// even below the instance's cap. Closed files are uncounted.
func TestOpenFilesBounded(t *testing.T) {
	th := startHost(t, exhaustSites(t))
	// wazero holds the /data directory itself open too, once a path was
	// resolved in it: one descriptor of the instance's.
	const atCap = sandbox.MaxOpenFiles - 1
	_, codes := th.do(t, "GET", "hog.test", "/", nil)
	var emfile, enfile int
	if _, err := fmt.Sscanf(codes, "EMFILE=%d ENFILE=%d", &emfile, &enfile); err != nil {
		t.Fatalf("errno values %q: %v", codes, err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	capped := 0
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 12 {
				resp, body := th.do(t, "GET", "hog.test", "/?open=100", nil)
				if resp.StatusCode != 200 {
					t.Errorf("hog: %d %s", resp.StatusCode, body)
					return
				}
				held, errno := openResult(t, body)
				if held > atCap {
					t.Errorf("an instance holds %d files, more than the cap of %d, without EMFILE", held, sandbox.MaxOpenFiles)
					return
				}
				if errno != 0 {
					if errno != emfile || held != atCap {
						t.Errorf("open failed with errno %d holding %d files, want EMFILE (%d) at %d", errno, held, emfile, atCap)
					}
					mu.Lock()
					capped++
					mu.Unlock()
				}
			}
		}()
	}
	quiet := make(chan error, 1)
	go func() {
		defer close(quiet)
		for {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequest("GET", th.url+"/counter", nil)
			req.Host = "quiet.test"
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				quiet <- fmt.Errorf("quiet site during the hammer: %v %v", resp, err)
				return
			}
			resp.Body.Close()
		}
	}()
	wg.Wait()
	close(stop)
	if err := <-quiet; err != nil {
		t.Fatal(err)
	}
	if capped == 0 {
		t.Fatalf("no instance reached the cap of %d open files", sandbox.MaxOpenFiles)
	}
	if resp, body := th.do(t, "GET", "quiet.test", "/counter", nil); resp.StatusCode != 200 {
		t.Fatalf("quiet site after the hammer: %d %s", resp.StatusCode, body)
	}
	t.Logf("%d answers at the cap", capped)
	// A file closed is a file uncounted: a warm instance that opens and
	// closes keeps opening.
	for i := range sandbox.MaxOpenFiles + 50 {
		if _, body := th.do(t, "GET", "quiet.test", "/file?name=/data/hello.txt", nil); body != "hello" {
			t.Fatalf("read %d of a file opened and closed: %q", i, body)
		}
	}

	t.Run("process share", func(t *testing.T) {
		th := startHost(t, exhaustSites(t))
		if th.rt.ReserveFiles(sandbox.FileLimit()-40) != 40 {
			t.Skip("no RLIMIT_NOFILE here")
		}
		resp, body := th.do(t, "GET", "hog.test", "/?open=100", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if held, errno := openResult(t, body); held != 39 || errno != enfile {
			t.Fatalf("held=%d errno=%d, want held=39 (and /data) errno=%d (ENFILE)", held, errno, enfile)
		}
		if !strings.Contains(th.logs.String(), "open files") {
			t.Errorf("no event about the guests' share of descriptors: %s", th.logs.String())
		}
	})
}

// vmRSS is the process's resident memory in KiB, for the log only: it
// moves with the garbage collector and the other tests of the process.
func vmRSS() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// TestDeepRecursionBounded: a C guest recursing with its values in wasm
// locals, none in linear memory, grows only the engine's native stack,
// which memory_limit does not count. Four such requests at once trap
// (500) at the instance's stack budget, not after wazero's own limit of
// about 100 MiB each; a shallow recursion still answers, and so does the
// other site.
func TestDeepRecursionBounded(t *testing.T) {
	th := startHost(t, strings.Replace(exhaustSites(t), "instances = 4\n", "instances = 4\nmemory_limit = \"16MiB\"\n", 1))
	if resp, body := th.do(t, "GET", "hog.test", "/?recurse=1000", nil); resp.StatusCode != 200 {
		t.Fatalf("a recursion 1,000 calls deep: %d %s", resp.StatusCode, body)
	}
	t.Logf("VmRSS before: %s", vmRSS())
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, body := th.do(t, "GET", "hog.test", "/?recurse=500000", nil); resp.StatusCode != 500 {
				t.Errorf("a recursion 500,000 calls deep: %d %s, want 500", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	t.Logf("VmRSS after 4 deep recursions: %s", vmRSS())
	if !strings.Contains(th.logs.String(), "call stack") {
		t.Errorf("the failure does not name the call stack budget:\n%s", th.logs.String())
	}
	if resp, body := th.do(t, "GET", "hog.test", "/?recurse=1000", nil); resp.StatusCode != 200 {
		t.Fatalf("a recursion 1,000 calls deep, after: %d %s", resp.StatusCode, body)
	}
	if resp, body := th.do(t, "GET", "quiet.test", "/counter", nil); resp.StatusCode != 200 {
		t.Fatalf("quiet site: %d %s", resp.StatusCode, body)
	}
	runtime.GC()
	debug.FreeOSMemory()
	t.Logf("VmRSS after a garbage collection: %s", vmRSS())
}
