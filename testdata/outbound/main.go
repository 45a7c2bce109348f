// Command outbound is the test guest of outbound connections: each path
// opens connections through the Go SDK (guest.DialContext, guest.Transport)
// with real drivers unchanged but for their dial hook: pgx, go-sql-driver/
// mysql and go-redis. Errors answer 403 (denied), 429 (too many
// connections), 504 (timeout) or 502 (anything else), with the error text.
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/wasgi/wasgi/abi/guest"
)

var (
	mu   sync.Mutex
	held []net.Conn // /hold: connections kept across requests

	select1DB *sql.DB // /select1: a pool kept across requests
)

func fail(w http.ResponseWriter, err error) {
	status := http.StatusBadGateway
	switch {
	case errors.Is(err, guest.ErrDenied):
		status = http.StatusForbidden
	case errors.Is(err, guest.ErrTooManyConns):
		status = http.StatusTooManyRequests
	case errors.Is(err, os.ErrDeadlineExceeded):
		status = http.StatusGatewayTimeout
	}
	http.Error(w, err.Error(), status)
}

func init() {
	mux := http.NewServeMux()
	// /echo?addr=&msg=: send msg, close the write side, answer what came back.
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := guest.DialContext(r.Context(), "tcp", r.URL.Query().Get("addr"))
		if err != nil {
			fail(w, err)
			return
		}
		defer c.Close()
		io.WriteString(c, r.URL.Query().Get("msg"))
		c.(*guest.Conn).CloseWrite()
		b, err := io.ReadAll(c)
		if err != nil {
			fail(w, err)
			return
		}
		fmt.Fprintf(w, "tls=%v %s", c.(*guest.Conn).TLS(), b)
	})
	// /hold?addr=: open a connection and keep it; with wait=1, answer
	// only once the server sent a byte.
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		c, err := guest.DialContext(r.Context(), "tcp", r.URL.Query().Get("addr"))
		if err != nil {
			fail(w, err)
			return
		}
		if r.URL.Query().Get("wait") != "" {
			var b [1]byte
			if _, err := c.Read(b[:]); err != nil {
				fail(w, err)
				return
			}
		}
		mu.Lock()
		held = append(held, c)
		n := len(held)
		mu.Unlock()
		fmt.Fprintf(w, "holding %d", n)
	})
	// /sleep?ms=: hold the instance without the network.
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		io.WriteString(w, "slept")
	})
	// /recv?addr=: wait for a server that never speaks.
	mux.HandleFunc("/recv", func(w http.ResponseWriter, r *http.Request) {
		c, err := guest.DialContext(r.Context(), "tcp", r.URL.Query().Get("addr"))
		if err != nil {
			fail(w, err)
			return
		}
		var b [1]byte
		_, err = c.Read(b[:])
		fail(w, fmt.Errorf("read returned: %w", err))
	})
	mux.HandleFunc("/http", func(w http.ResponseWriter, r *http.Request) {
		resp, err := (&http.Client{Transport: guest.Transport}).Get(r.URL.Query().Get("url"))
		if err != nil {
			fail(w, err)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(w, "%d %s", resp.StatusCode, b)
	})
	mux.HandleFunc("/pg", func(w http.ResponseWriter, r *http.Request) {
		out, err := postgres(r.Context(), r.URL.Query().Get("dsn"), r.URL.Query().Get("v"))
		if err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, out)
	})
	mux.HandleFunc("/mysql", func(w http.ResponseWriter, r *http.Request) {
		out, err := mariadb(r.Context(), r.URL.Query().Get("dsn"), r.URL.Query().Get("v"))
		if err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, out)
	})
	mux.HandleFunc("/redis", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		rdb := redis.NewClient(&redis.Options{Addr: q.Get("addr"), Password: q.Get("pw"), Dialer: guest.DialContext})
		defer rdb.Close()
		if err := rdb.Set(r.Context(), "wasgi:key", q.Get("v"), 0).Err(); err != nil {
			fail(w, err)
			return
		}
		v, err := rdb.Get(r.Context(), "wasgi:key").Result()
		if err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "redis got "+v)
	})
	// /select1?dsn=: SELECT 1 on a pool kept across requests; the
	// query's own time in the guest, in microseconds.
	mux.HandleFunc("/select1", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if select1DB == nil {
			select1DB, _ = sql.Open("mysql", r.URL.Query().Get("dsn"))
		}
		db := select1DB
		mu.Unlock()
		t0 := time.Now()
		var one int
		if err := db.QueryRowContext(r.Context(), "SELECT 1").Scan(&one); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprintf(w, `{"one": %d, "us": %.1f}`, one, float64(time.Since(t0).Nanoseconds())/1e3)
	})
	guest.Serve(mux)
}

// postgres creates a table, inserts v and lists the rows, through pgx with
// the host dialling: LookupFunc hands the name on unresolved.
func postgres(ctx context.Context, dsn, v string) (string, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", err
	}
	cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	cfg.DialFunc = guest.DialContext
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS wasgi_items (id serial PRIMARY KEY, v text NOT NULL)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "INSERT INTO wasgi_items (v) VALUES ($1)", v); err != nil {
		return "", err
	}
	rows, err := conn.Query(ctx, "SELECT v FROM wasgi_items ORDER BY id")
	if err != nil {
		return "", err
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return "pg rows " + strings.Join(vs, ","), err
}

func init() {
	mysql.RegisterDialContext("wasgi", func(ctx context.Context, addr string) (net.Conn, error) {
		return guest.DialContext(ctx, "tcp", addr)
	})
}

// mariadb does the same through database/sql and go-sql-driver/mysql; dsn
// uses the "wasgi" network: user:password@wasgi(host:port)/db.
func mariadb(ctx context.Context, dsn, v string) (string, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS wasgi_items (id int AUTO_INCREMENT PRIMARY KEY, v text NOT NULL)"); err != nil {
		return "", err
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO wasgi_items (v) VALUES (?)", v); err != nil {
		return "", err
	}
	rows, err := db.QueryContext(ctx, "SELECT v FROM wasgi_items ORDER BY id")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var vs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", err
		}
		vs = append(vs, s)
	}
	return "mysql rows " + strings.Join(vs, ","), rows.Err()
}

func main() {}
