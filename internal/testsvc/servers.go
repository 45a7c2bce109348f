package testsvc

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The three servers: how each is found, set up, started and known ready.

var postgres = &service{
	name:     "PostgreSQL",
	pkg:      "postgresql",
	env:      "WASGI_TEST_POSTGRES",
	example:  "postgres://user:password@host:port/database",
	schemes:  []string{"postgres", "postgresql"},
	defaults: Endpoint{User: "postgres", Database: "postgres"},
	start:    startPostgres,
}

var mariadb = &service{
	name:     "MariaDB",
	pkg:      "mariadb-server",
	env:      "WASGI_TEST_MARIADB",
	example:  "mysql://user:password@host:port/database",
	schemes:  []string{"mysql", "mariadb"},
	defaults: Endpoint{User: "root"},
	start:    startMariaDB,
}

var redis = &service{
	name:    "Redis",
	pkg:     "redis-server",
	env:     "WASGI_TEST_REDIS",
	example: "redis://:password@host:port",
	schemes: []string{"redis"},
	start:   startRedis,
}

// newPassword returns a random password of hex digits, safe to quote in
// SQL and configuration files.
func newPassword() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// postgresBin returns the folder of initdb and postgres: PATH's, else the
// newest of Debian's /usr/lib/postgresql/VERSION/bin.
func postgresBin() (string, bool) {
	if p, err := exec.LookPath("postgres"); err == nil {
		if _, err := exec.LookPath(filepath.Join(filepath.Dir(p), "initdb")); err == nil {
			return filepath.Dir(p), true
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return n }
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		_, err1 := exec.LookPath(filepath.Join(d, "initdb"))
		_, err2 := exec.LookPath(filepath.Join(d, "postgres"))
		if err1 == nil && err2 == nil {
			return d, true
		}
	}
	return "", false
}

func startPostgres(s *service) (Endpoint, error) {
	bin, ok := postgresBin()
	if !ok {
		return Endpoint{}, s.missing()
	}
	sb, err := newSandbox("postgres")
	if err != nil {
		return Endpoint{}, err
	}
	pw := newPassword()
	if err := sb.writeFile("pwfile", pw+"\n"); err != nil {
		return Endpoint{}, err
	}
	data := sb.path("data")
	if err := sb.run(filepath.Join(bin, "initdb"), "-D", data, "-U", "wasgi", "--pwfile="+sb.path("pwfile"),
		"--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"); err != nil {
		return Endpoint{}, err
	}
	args := func(port int) []string {
		return []string{"-D", data, "-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories=", // TCP only: no socket path to outgrow 107 bytes
			"-c", "shared_buffers=32MB",
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"}
	}
	// SIGQUIT is PostgreSQL's immediate shutdown: the backends end too and
	// the shared memory is released.
	addr, err := sb.startServer(filepath.Join(bin, "postgres"), args, syscall.SIGQUIT, func(string) error {
		return postgresReady(filepath.Join(data, "postmaster.pid"))
	})
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{Addr: addr, User: "wasgi", Password: pw, Database: "postgres"}, nil
}

// postgresReady reads the status that the postmaster writes on the eighth
// line of postmaster.pid: "ready" once it accepts connections.
func postgresReady(pidfile string) error {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return err
	}
	if lines := strings.Split(string(b), "\n"); len(lines) >= 8 && strings.TrimSpace(lines[7]) == "ready" {
		return nil
	}
	return errors.New("postmaster.pid: not ready")
}

func startMariaDB(s *service) (Endpoint, error) {
	mariadbd, ok1 := findBin("mariadbd")
	installDB, ok2 := findBin("mariadb-install-db")
	if !ok1 || !ok2 {
		return Endpoint{}, s.missing()
	}
	sb, err := newSandbox("mariadb")
	if err != nil {
		return Endpoint{}, err
	}
	pw := newPassword()
	// --init-file runs at every start, before connections are accepted.
	initSQL := fmt.Sprintf("CREATE USER IF NOT EXISTS 'wasgi'@'%%' IDENTIFIED BY '%s';\n"+
		"GRANT ALL PRIVILEGES ON *.* TO 'wasgi'@'%%' WITH GRANT OPTION;\n"+
		"CREATE DATABASE IF NOT EXISTS wasgi;\n", pw)
	if err := sb.writeFile("init.sql", initSQL); err != nil {
		return Endpoint{}, err
	}
	// --no-defaults must come first: no my.cnf of the system is read.
	common := []string{"--no-defaults", "--datadir=" + sb.path("data"),
		"--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M"}
	if err := sb.run(installDB, slices.Concat(common, []string{"--skip-test-db", "--skip-name-resolve",
		"--auth-root-authentication-method=socket"})...); err != nil {
		return Endpoint{}, err
	}
	args := func(port int) []string {
		return slices.Concat(common, []string{"--bind-address=127.0.0.1", "--port=" + strconv.Itoa(port),
			"--socket=" + sb.path("mariadbd.sock"), "--pid-file=" + sb.path("mariadbd.pid"),
			"--tmpdir=" + sb.dir, "--skip-name-resolve", "--init-file=" + sb.path("init.sql"),
			"--innodb-flush-log-at-trx-commit=0"})
	}
	addr, err := sb.startServer(mariadbd, args, syscall.SIGKILL, mariadbReady)
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{Addr: addr, User: "wasgi", Password: pw, Database: "wasgi"}, nil
}

// mariadbReady connects and reads the server's greeting: a packet whose
// first byte is protocol version 10 (an error packet starts with 0xff).
func mariadbReady(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	var hdr [5]byte // 3 bytes length, 1 sequence, first payload byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	if hdr[4] != 10 {
		return fmt.Errorf("greeting starts with %#x, not protocol version 10", hdr[4])
	}
	return nil
}

func startRedis(s *service) (Endpoint, error) {
	bin, ok := findBin("redis-server")
	if !ok {
		return Endpoint{}, s.missing()
	}
	sb, err := newSandbox("redis")
	if err != nil {
		return Endpoint{}, err
	}
	pw := newPassword()
	conf := fmt.Sprintf("bind 127.0.0.1\nprotected-mode yes\nrequirepass %s\nsave \"\"\nappendonly no\n"+
		"daemonize no\nlogfile \"\"\ndir %s\n", pw, sb.dir)
	if err := sb.writeFile("redis.conf", conf); err != nil {
		return Endpoint{}, err
	}
	args := func(port int) []string { return []string{sb.path("redis.conf"), "--port", strconv.Itoa(port)} }
	addr, err := sb.startServer(bin, args, syscall.SIGKILL, func(addr string) error { return redisReady(addr, pw) })
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{Addr: addr, Password: pw}, nil
}

// redisReady logs in and expects PONG to a PING.
func redisReady(addr, pw string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "AUTH %s\r\nPING\r\n", pw); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	for _, want := range []string{"+OK\r\n", "+PONG\r\n"} {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line != want {
			return fmt.Errorf("redis said %q, want %q", line, want)
		}
	}
	return nil
}
