// Package testsvc gives tests real database servers: PostgreSQL, MariaDB
// and Redis, from Debian's packages, listening on 127.0.0.1.
//
// Each function returns the Endpoint of a server that the test process
// owns. The first call in a process starts a private, throwaway instance of
// the installed server: a fresh data folder under os.TempDir(), a free
// port on 127.0.0.1, a random password, nothing shared with a system
// service, no configuration file read. Later calls in the same process
// return the same server. The kernel ends the server when the test process
// exits, however it exits (see Pdeathsig in process.go); the data folder is
// removed by the next test process that starts one.
//
// When the tests run as root, the servers run as the user nobody:
// PostgreSQL refuses to run as root, and none of them needs to. The data
// folder is then owned by nobody, so os.TempDir() must be reachable by
// nobody (it is when TMPDIR is unset: /tmp).
//
// # Environment
//
// WASGI_TEST_POSTGRES, WASGI_TEST_MARIADB and WASGI_TEST_REDIS name a
// server to use instead of starting one, as a URL
// (postgres://user:password@host:port/database,
// mysql://user:password@host:port/database, redis://:password@host:port)
// or as a bare host:port, with the defaults of each function's doc.
//
// A test that calls a function of this package is skipped when the server
// is neither installed nor named by its variable, with a message that
// names the Debian package to install and `go run ./examples/run setup`,
// which installs them all. testsvc never installs a package
// and never starts a system service. With WASGI_REQUIRE_SERVICES=1 (.ci/run
// sets it) the test fails instead of skipping, so that CI cannot pass with
// a service test that did not run.
package testsvc

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasgi/wasgi/internal/setup"
)

// Endpoint is where a test reaches a server, and as whom.
type Endpoint struct {
	// Addr is the server's TCP address, host:port.
	Addr string
	// User is the user to log in as; empty for Redis's default user.
	User string
	// Password is User's password; empty when the server asks for none.
	Password string
	// Database is the database to connect to; empty for Redis.
	Database string
}

// Postgres returns a PostgreSQL server. A private one is started from
// Debian's postgresql package (/usr/lib/postgresql/*/bin) or from initdb
// and postgres on PATH: user wasgi, a superuser, with a random password
// checked by SCRAM-SHA-256, and database postgres. WASGI_TEST_POSTGRES
// names another server; as a bare host:port it means user postgres, no
// password, database postgres.
func Postgres(tb testing.TB) Endpoint {
	tb.Helper()
	return postgres.get(tb)
}

// MariaDB returns a MariaDB server. A private one is started from
// Debian's mariadb-server package (mariadb-install-db and mariadbd): user
// wasgi, with a random password and every privilege, and database wasgi.
// WASGI_TEST_MARIADB names another server; as a bare host:port it means
// user root, no password, no database.
func MariaDB(tb testing.TB) Endpoint {
	tb.Helper()
	return mariadb.get(tb)
}

// Redis returns a Redis server. A private one is started from Debian's
// redis-server package: the default user, a random password (AUTH
// password), nothing saved to disk. WASGI_TEST_REDIS names another server;
// as a bare host:port it means no password.
func Redis(tb testing.TB) Endpoint {
	tb.Helper()
	return redis.get(tb)
}

// requireEnv turns a skip for a missing service into a failure.
const requireEnv = "WASGI_REQUIRE_SERVICES"

// service is one kind of server, resolved once per test process.
type service struct {
	name     string   // "PostgreSQL"
	pkg      string   // the Debian package that has the server
	env      string   // the variable that names a server to use instead
	example  string   // a value for env, for messages
	schemes  []string // URL schemes env accepts
	defaults Endpoint // User, Password and Database for a bare host:port
	// start starts a private server; it returns s.missing() when the
	// server is not installed.
	start func(s *service) (Endpoint, error)

	once sync.Once
	ep   Endpoint
	err  error
}

// unavailableError says that a service cannot be had here: a skip, or a
// failure under WASGI_REQUIRE_SERVICES=1.
type unavailableError struct{ msg string }

func (e *unavailableError) Error() string { return e.msg }

func (s *service) get(tb testing.TB) Endpoint {
	tb.Helper()
	s.once.Do(func() { s.ep, s.err = s.resolve() })
	if u := (*unavailableError)(nil); errors.As(s.err, &u) {
		unavailable(tb, u.msg)
	} else if s.err != nil {
		tb.Fatalf("testsvc: %s: %v", s.name, s.err)
	}
	return s.ep
}

// missing is the error for a server that is not installed.
func (s *service) missing() error {
	return &unavailableError{fmt.Sprintf("testsvc: needs %s: apt-get install %s (or run %s, or set %s=%s)",
		s.name, s.pkg, setup.Command, s.env, s.example)}
}

func (s *service) resolve() (Endpoint, error) {
	v := os.Getenv(s.env)
	if v == "" {
		return s.start(s)
	}
	ep, err := s.parse(v)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%s=%s: %w", s.env, v, err)
	}
	c, err := net.DialTimeout("tcp", ep.Addr, 3*time.Second)
	if err != nil {
		return Endpoint{}, &unavailableError{fmt.Sprintf("testsvc: needs %s: %s=%s is not reachable: %v", s.name, s.env, v, err)}
	}
	c.Close()
	return ep, nil
}

// parse reads the value of s.env: a URL with one of s.schemes, or host:port.
func (s *service) parse(v string) (Endpoint, error) {
	if !strings.Contains(v, "://") {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return Endpoint{}, fmt.Errorf("want host:port or a URL like %s", s.example)
		}
		ep := s.defaults
		ep.Addr = v
		return ep, nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return Endpoint{}, err
	}
	ok := false
	for _, sc := range s.schemes {
		ok = ok || u.Scheme == sc
	}
	if !ok {
		return Endpoint{}, fmt.Errorf("scheme %q: want %s", u.Scheme, strings.Join(s.schemes, " or "))
	}
	if u.Port() == "" {
		return Endpoint{}, errors.New("no port")
	}
	ep := Endpoint{Addr: u.Host, Database: strings.TrimPrefix(u.Path, "/")}
	if u.User != nil {
		ep.User = u.User.Username()
		ep.Password, _ = u.User.Password()
	}
	return ep, nil
}

// unavailable skips the test, or fails it under WASGI_REQUIRE_SERVICES=1.
// It opens the setup stamp (setup.Observe), so that a cached skip reruns
// once `go run ./examples/run setup` has installed the server.
func unavailable(tb testing.TB, msg string) {
	tb.Helper()
	setup.Observe()
	if os.Getenv(requireEnv) == "1" {
		tb.Fatalf("%s; failing, not skipping, because %s=1", msg, requireEnv)
		return
	}
	tb.Skip(msg)
}
