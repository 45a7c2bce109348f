package testsvc_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/wasgi/wasgi/internal/testsvc"
)

// Each test talks to its server through the driver that guests will use,
// and checks that a wrong password is refused: the server is real, and it
// really authenticates.

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestPostgres(t *testing.T) {
	ep := testsvc.Postgres(t)
	host, port, err := net.SplitHostPort(ep.Addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig("sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.ParseUint(port, 10, 16)
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = host, uint16(p), ep.User, ep.Password, ep.Database
	conn, err := pgx.ConnectConfig(ctx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx(t))
	var n int
	var version string
	if err := conn.QueryRow(ctx(t), "SELECT 1, version()").Scan(&n, &version); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("SELECT 1 = %d", n)
	}
	t.Logf("%s: %s", ep.Addr, version)

	if ep.Password == "" {
		return
	}
	bad := cfg.Copy()
	bad.Password = "wrong"
	c, err := pgx.ConnectConfig(ctx(t), bad)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" { // invalid_password
		if c != nil {
			c.Close(ctx(t))
		}
		t.Fatalf("wrong password: %v, want SQLSTATE 28P01", err)
	}
}

func TestMariaDB(t *testing.T) {
	ep := testsvc.MariaDB(t)
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName = "tcp", ep.Addr, ep.User, ep.Password, ep.Database
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var version string
	if err := db.QueryRowContext(ctx(t), "SELECT 1, VERSION()").Scan(&n, &version); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("SELECT 1 = %d", n)
	}
	t.Logf("%s: %s", ep.Addr, version)

	if ep.Password == "" {
		return
	}
	bad := cfg.Clone()
	bad.Passwd = "wrong"
	badDB, err := sql.Open("mysql", bad.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer badDB.Close()
	err = badDB.PingContext(ctx(t))
	var myErr *mysql.MySQLError
	if !errors.As(err, &myErr) || myErr.Number != 1045 { // ER_ACCESS_DENIED_ERROR
		t.Fatalf("wrong password: %v, want error 1045", err)
	}
}

func TestRedis(t *testing.T) {
	ep := testsvc.Redis(t)
	c := redis.NewClient(&redis.Options{Addr: ep.Addr, Username: ep.User, Password: ep.Password})
	defer c.Close()
	b := make([]byte, 8)
	rand.Read(b)
	key, val := "testsvc:"+t.Name(), hex.EncodeToString(b)
	if err := c.Set(ctx(t), key, val, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx(t), key).Result()
	if err != nil || got != val {
		t.Fatalf("GET %s = %q, %v; want %q", key, got, err, val)
	}
	info, _ := c.Info(ctx(t), "server").Result()
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			t.Logf("%s: Redis %s", ep.Addr, v)
		}
	}

	if ep.Password == "" {
		return
	}
	bad := redis.NewClient(&redis.Options{Addr: ep.Addr, Username: ep.User, Password: "wrong", MaxRetries: -1})
	defer bad.Close()
	if err := bad.Ping(ctx(t)).Err(); err == nil {
		t.Fatal("wrong password: PING answered")
	}
}

// TestOneServerPerProcess checks that later calls share the first's server.
func TestOneServerPerProcess(t *testing.T) {
	a, b := testsvc.Redis(t), testsvc.Redis(t)
	if a != b {
		t.Fatalf("two servers in one process: %+v, %+v", a, b)
	}
}
