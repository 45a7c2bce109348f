package testsvc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		svc  *service
		in   string
		want Endpoint
		err  string
	}{
		{"postgres host:port", postgres, "127.0.0.1:5432",
			Endpoint{Addr: "127.0.0.1:5432", User: "postgres", Database: "postgres"}, ""},
		{"postgres URL", postgres, "postgres://app:p%40ss@db.example:6543/site",
			Endpoint{Addr: "db.example:6543", User: "app", Password: "p@ss", Database: "site"}, ""},
		{"postgresql scheme", postgres, "postgresql://app@[::1]:5432/site",
			Endpoint{Addr: "[::1]:5432", User: "app", Database: "site"}, ""},
		{"postgres wrong scheme", postgres, "mysql://app@db:3306/site", Endpoint{}, `scheme "mysql"`},
		{"postgres no port", postgres, "postgres://app@db/site", Endpoint{}, "no port"},
		{"postgres no port, no URL", postgres, "localhost", Endpoint{}, "want host:port"},
		{"mariadb host:port", mariadb, "127.0.0.1:3306", Endpoint{Addr: "127.0.0.1:3306", User: "root"}, ""},
		{"mariadb URL", mariadb, "mariadb://wasgi:pw@127.0.0.1:3307/wasgi",
			Endpoint{Addr: "127.0.0.1:3307", User: "wasgi", Password: "pw", Database: "wasgi"}, ""},
		{"redis host:port", redis, "127.0.0.1:6379", Endpoint{Addr: "127.0.0.1:6379"}, ""},
		{"redis URL, password only", redis, "redis://:pw@127.0.0.1:6380",
			Endpoint{Addr: "127.0.0.1:6380", Password: "pw"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.svc.parse(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parse(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

// recorder is a testing.TB that records a skip or a failure.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Skip(args ...any)             { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatalf(f string, args ...any) { r.failed = fmt.Sprintf(f, args...) }

func TestUnavailable(t *testing.T) {
	msg := postgres.missing().Error()
	if !strings.Contains(msg, "apt-get install postgresql") || !strings.Contains(msg, "WASGI_TEST_POSTGRES=") {
		t.Errorf("message %q names neither the package nor the variable", msg)
	}
	for _, require := range []string{"", "1"} {
		t.Run("WASGI_REQUIRE_SERVICES="+require, func(t *testing.T) {
			t.Setenv(requireEnv, require)
			r := &recorder{}
			unavailable(r, msg)
			if require == "1" {
				if r.skipped != "" || !strings.HasPrefix(r.failed, msg) {
					t.Fatalf("skipped %q, failed %q: want a failure", r.skipped, r.failed)
				}
			} else if r.failed != "" || r.skipped != msg {
				t.Fatalf("skipped %q, failed %q: want a skip", r.skipped, r.failed)
			}
		})
	}
}

// TestServerEndsWithTestProcess starts a Redis server in a child test
// process that then kills itself with SIGKILL, so that no Go code of it
// runs: the server must be gone all the same, and its folder swept.
func TestServerEndsWithTestProcess(t *testing.T) {
	if os.Getenv("TESTSVC_CHILD") == "1" {
		ep := Redis(t)
		fmt.Printf("addr=%s\n", ep.Addr)
		os.Stdout.Sync()
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	if _, ok := findBin("redis-server"); !ok {
		unavailable(t, redis.missing().Error())
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerEndsWithTestProcess$")
	cmd.Env = append(os.Environ(), "TESTSVC_CHILD=1", "WASGI_TEST_REDIS=")
	out, _ := cmd.Output() // killed: the error is expected
	addr, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "addr=")
	if !ok {
		t.Fatalf("child printed %q", out)
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-redis-*", dirPrefix, cmd.Process.Pid)))
	if len(dirs) != 1 {
		t.Fatalf("child's folders: %v, want one", dirs)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections 10s after its test process died", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sweep()
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Fatalf("%s not swept: %v", dirs[0], err)
	}
}
