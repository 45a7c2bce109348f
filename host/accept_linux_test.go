//go:build linux

package host

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/wasgi/wasgi/internal/testwait"
)

// TestReadyzReportsAcceptFailures: while the public listener cannot
// accept (the process is out of descriptors), /readyz on the admin
// listener answers 503 naming the cause, and the host logs one event for
// the burst; once accepts work again, so does /readyz. The test runs in a
// child process of its own, which uses up its own descriptors.
func TestReadyzReportsAcceptFailures(t *testing.T) {
	if os.Getenv("WASGI_TEST_ACCEPT_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReadyzReportsAcceptFailures$", "-test.v")
		cmd.Env = append(os.Environ(), "WASGI_TEST_ACCEPT_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		t.Logf("child:\n%s", out)
		return
	}
	th := startHost(t, "[server]\nadmin = \"127.0.0.1:0\"\n"+strings.TrimPrefix(exhaustSites(t), "\n[server]\n"))
	// One admin connection, opened now and kept alive: asking /readyz
	// later needs no new descriptor.
	admin := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	readyz := func() (int, string) {
		resp, err := admin.Get("http://" + th.AdminAddr().String() + "/readyz")
		if err != nil {
			t.Fatalf("/readyz: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := readyz(); code != 200 {
		t.Fatalf("/readyz before: %d %s", code, body)
	}

	// Use up every descriptor but one, below a lowered soft limit.
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Skip(err)
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	low := orig
	low.Cur = uint64(len(fds) + 64)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	var filler []*os.File
	release := func() {
		for _, f := range filler {
			f.Close()
		}
		filler = nil
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig)
	}
	defer release()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatal(err)
			}
			break
		}
		filler = append(filler, f)
	}
	filler[len(filler)-1].Close()
	filler = filler[:len(filler)-1]

	// The client's socket takes the last descriptor: the server has none
	// left to accept it with.
	conn, err := net.Dial("tcp", strings.TrimPrefix(th.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /counter HTTP/1.1\r\nHost: quiet.test\r\n\r\n")
	var body string
	testwait.Until(t, "/readyz says 503", func() bool {
		code, b := readyz()
		body = b
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "too many open files") {
		t.Errorf("/readyz does not name the cause: %q", body)
	}

	release()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the waiting client, once accepted: %d", resp.StatusCode)
	}
	testwait.Until(t, "/readyz says 200 again", func() bool { code, _ := readyz(); return code == 200 })
	logs := th.logs.String()
	if n := strings.Count(logs, "accept failing"); n != 1 {
		t.Errorf("%d events about failing accepts, want 1 for the burst:\n%s", n, logs)
	}
	if strings.Contains(logs, "http: Accept error") {
		t.Errorf("net/http's retry messages logged as well:\n%s", logs)
	}
	t.Logf("/readyz while failing: %q", body)
}
