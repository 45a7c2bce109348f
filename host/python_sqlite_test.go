package host

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasgi/wasgi/internal/testwasm"
)

// The SQLite tests: the Python runtime's sqlite3 on a database in an rw
// dir, its locks taken through the host (runtimes/python/reactor/wasgi_sqlite.c,
// RATIONALE.md "SQLite locks through the host"), checked against a
// native python3 writing the same file.

// nativeSQLite returns Debian's python3 (or the first python3 on PATH)
// with its sqlite3 module: skipped without, failing on CI.
func nativeSQLite(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		if py, err = exec.LookPath("python3"); err != nil {
			py = ""
		}
	}
	if py != "" {
		if err := exec.Command(py, "-c", "import sqlite3").Run(); err == nil {
			return py
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the SQLite tests need a native python3 with its sqlite3 module")
	}
	t.Skip("the SQLite tests need a native python3 with its sqlite3 module")
	return ""
}

// sqliteConfig serves testdata/python/sqlite/sqliteapp.py on db.test
// with data, a host folder, as its rw dir /data, in a group of instances.
func sqliteConfig(t *testing.T, data string, instances int) string {
	return fmt.Sprintf(`
[server]
cache_dir = %q
access_log = "off"
[groups.db]
instances = %d
queue_timeout = "60s"
[[site]]
name = "db"
hosts = ["db.test"]
root = %q
  [[site.app]]
  name = "main"
  mount = "/"
  group = "db"
  runtime = "python"
  wsgi = "sqliteapp"
  python_path = ["testdata/python/sqlite"]
  dirs = [{ guest = "/data", host = %q, mode = "rw" }]
`, testwasm.CacheDir(t), instances, testwasm.Root(t), data)
}

// runNative runs a Python script natively with args and returns its
// stdout.
func runNative(t *testing.T, py, script string, args ...string) string {
	t.Helper()
	out, err := exec.Command(py, append([]string{"-c", script}, args...)...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("native python3: %v\n%s", err, stderr)
	}
	return string(out)
}

// TestPythonSQLite: sqlite3 in the guest makes, writes and reads a table
// in an rw dir (read natively too), refuses WAL with the reason, and
// waits out a native process's lock for its busy timeout.
func TestPythonSQLite(t *testing.T) {
	pythonRuntime(t)
	py := nativeSQLite(t)
	data := t.TempDir()
	th := startHost(t, sqliteConfig(t, data, 2))

	t.Run("create, insert, select", func(t *testing.T) {
		var got struct {
			Rows        [][]any
			JournalMode string `json:"journal_mode"`
			Version     string
			Ino         uint64
		}
		getJSON(t, th, "db.test", "/basic?db=basic.sqlite3&text=first", &got)
		getJSON(t, th, "db.test", "/basic?db=basic.sqlite3&text=second", &got)
		if len(got.Rows) != 2 || got.Rows[0][1] != "first" || got.Rows[1][1] != "second" || got.JournalMode != "delete" {
			t.Fatalf("rows %v, journal_mode %q", got.Rows, got.JournalMode)
		}
		fi, err := os.Stat(filepath.Join(data, "basic.sqlite3"))
		if err != nil {
			t.Fatal(err)
		}
		// SQLite tells files apart by inode (its table of open files,
		// through which one instance's connections share their locks).
		if ino := fi.Sys().(*syscall.Stat_t).Ino; got.Ino != ino {
			t.Errorf("the guest sees inode %d, the host %d", got.Ino, ino)
		}
		rows := runNative(t, py, `import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("PRAGMA integrity_check").fetchone()[0], [r[0] for r in db.execute("SELECT text FROM notes ORDER BY id")])`,
			filepath.Join(data, "basic.sqlite3"))
		if rows != "ok ['first', 'second']\n" {
			t.Errorf("read natively: %q", rows)
		}
		t.Logf("SQLite %s in the guest", got.Version)
	})

	t.Run("WAL is refused with a reason", func(t *testing.T) {
		var got struct {
			Error, Message, Result string
			JournalMode            string `json:"journal_mode"`
		}
		getJSON(t, th, "db.test", "/wal?db=wal.sqlite3", &got)
		if got.Error != "OperationalError" || !strings.Contains(got.Message, "WAL is not supported in wasgi") ||
			!strings.Contains(got.Message, "rollback journal") || got.JournalMode != "delete" {
			t.Fatalf("PRAGMA journal_mode=WAL: %+v", got)
		}
		// A database a native process put in WAL mode cannot be opened;
		// the log says why.
		runNative(t, py, `import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")`, filepath.Join(data, "native-wal.sqlite3"))
		resp, body := th.do(t, "GET", "db.test", "/basic?db=native-wal.sqlite3", nil)
		if resp.StatusCode != 500 || body != "OperationalError: unable to open database file" {
			t.Errorf("a database in WAL mode: %d %q", resp.StatusCode, body)
		}
		if !strings.Contains(th.logs.String(), "/data/native-wal.sqlite3 is in WAL mode, which wasgi cannot share") {
			t.Errorf("no word in the log of the WAL mode:\n%s", th.logs.String())
		}
	})

	t.Run("a lock held natively makes the guest wait, then answer locked", func(t *testing.T) {
		db := filepath.Join(data, "held.sqlite3")
		runNative(t, py, `import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0); CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT, pad BLOB);")`, db)
		holder := exec.Command(py, "-c", `import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("holding", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")`, db)
		stdin, _ := holder.StdinPipe()
		stdout, _ := holder.StdoutPipe()
		if err := holder.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { stdin.Close(); holder.Wait() }()
		if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "holding\n" {
			t.Fatalf("native holder: %q", line)
		}
		start := time.Now()
		resp, body := th.do(t, "GET", "db.test", "/write?db=held.sqlite3&id=1&timeout=0.5", nil)
		waited := time.Since(start)
		if resp.StatusCode != 503 || body != "locked" {
			t.Fatalf("write under a native exclusive lock: %d %q", resp.StatusCode, body)
		}
		if waited < 400*time.Millisecond {
			t.Errorf("answered locked after %v: the busy timeout of 0.5 s did not wait", waited)
		}
		stdin.Close()
		holder.Wait()
		if resp, body := th.do(t, "GET", "db.test", "/write?db=held.sqlite3&id=2&timeout=5", nil); resp.StatusCode != 200 {
			t.Fatalf("write after the native lock went: %d %q", resp.StatusCode, body)
		}
	})
}

// TestPythonSQLiteConcurrency: four instances of an app, eight HTTP
// clients and a native python3 write one database at once for a few
// seconds. Every transaction adds a row and bumps a counter, so readers
// (/check) must always see count(*) equal to the counter; afterwards the
// database passes PRAGMA integrity_check, holds every write that was
// acknowledged and no other, and the counter matches. Broken locking
// shows as lost writes, a counter that disagrees, or corruption.
func TestPythonSQLiteConcurrency(t *testing.T) {
	pythonRuntime(t)
	py := nativeSQLite(t)
	data := t.TempDir()
	db := filepath.Join(data, "db.sqlite3")
	runNative(t, py, `import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""
CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0);
CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT, pad BLOB);
CREATE INDEX t_who ON t (who);
""")`, db)
	th := startHost(t, sqliteConfig(t, data, 4))

	duration := 10 * time.Second // as issue 18 asks
	if testing.Short() {
		duration = 2 * time.Second
	}
	// Start the pool's first instance (the import, the snapshot) before
	// the clock.
	if resp, body := th.do(t, "GET", "db.test", "/check", nil); resp.StatusCode != 200 {
		t.Fatalf("first check: %d %q", resp.StatusCode, body)
	}
	// The native writer: the same transactions, with negative ids, and a
	// pause after each as a real process would make (back to back, it
	// would hold the lock nearly all the time: SQLite's busy handler
	// polls, it does not queue).
	native := exec.Command(py, "-c", `import json, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
end = time.monotonic() + float(sys.argv[2])
acked, locked, errors, i = [], 0, [], 0
while time.monotonic() < end:
    i += 1
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE counter SET n = n + 1")
        db.execute("INSERT INTO t (id, who, pad) VALUES (?, 'native', randomblob(200))", (-i,))
        db.execute("COMMIT")
        acked.append(-i)
        time.sleep(0.002)
    except sqlite3.Error as e:
        try:
            if db.in_transaction:
                db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        if "locked" in str(e):
            locked += 1
        else:
            errors.append(str(e))
print(json.dumps({"acked": acked, "locked": locked, "errors": errors[:5], "nerrors": len(errors)}))`, db, fmt.Sprint(duration.Seconds()))
	var nativeOut strings.Builder
	native.Stdout = &nativeOut
	native.Stderr = os.Stderr
	if err := native.Start(); err != nil {
		t.Fatal(err)
	}

	var (
		next           atomic.Int64
		locked, checks atomic.Int64
		mu             sync.Mutex
		acked          = map[int64]string{} // id -> the instance that wrote it
		failures       []string
		wg             sync.WaitGroup
		deadline       = time.Now().Add(duration)
	)
	fail := func(s string) {
		mu.Lock()
		if len(failures) < 10 {
			failures = append(failures, s)
		}
		mu.Unlock()
	}
	// get is th.do for the clients' goroutines, which must not t.Fatal.
	get := func(target string) (int, string) {
		req, _ := http.NewRequest("GET", th.url+target, nil)
		req.Host = "db.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, err.Error()
		}
		return resp.StatusCode, string(b)
	}
	for c := range 8 {
		// Half the clients give up after 50 ms, so that answers "database
		// is locked" (a transaction rolled back, never half-applied) come
		// too; as the app keeps a connection per timeout, an instance then
		// has two on the file, sharing its locks as SQLite's connections
		// in one process do.
		timeout := "5"
		if c%2 == 1 {
			timeout = "0.05"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				id := next.Add(1)
				code, body := get(fmt.Sprintf("/write?id=%d&timeout=%s", id, timeout))
				switch {
				case code == 200:
					mu.Lock()
					acked[id] = body
					mu.Unlock()
				case code == 503 && body == "locked":
					locked.Add(1)
				default:
					fail(fmt.Sprintf("client %d write %d: %d %q", c, id, code, body))
				}
				if i%4 == 3 {
					code, body := get("/check?timeout=" + timeout)
					switch {
					case code == 200:
						checks.Add(1)
					case code == 503 && body == "locked":
						locked.Add(1)
					default:
						fail(fmt.Sprintf("client %d check: %d %q", c, code, body))
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := native.Wait(); err != nil {
		t.Fatalf("native writer: %v", err)
	}
	var nat struct {
		Acked   []int64
		Locked  int
		Errors  []string
		NErrors int
	}
	if err := json.Unmarshal([]byte(nativeOut.String()), &nat); err != nil {
		t.Fatalf("native writer's report %q: %v", nativeOut.String(), err)
	}
	if nat.NErrors > 0 {
		t.Errorf("the native writer had %d errors, first %q", nat.NErrors, nat.Errors)
	}
	for _, f := range failures {
		t.Error(f)
	}

	var after struct {
		Integrity string
		IDs       []int64
		Counter   int64
	}
	out := runNative(t, py, `import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(json.dumps({
    "integrity": "\n".join(r[0] for r in db.execute("PRAGMA integrity_check")),
    "ids": [r[0] for r in db.execute("SELECT id FROM t")],
    "counter": db.execute("SELECT n FROM counter").fetchone()[0],
}))`, db)
	if err := json.Unmarshal([]byte(out), &after); err != nil {
		t.Fatalf("reading the database natively: %q: %v", out, err)
	}
	instances := map[string]int{}
	for _, who := range acked {
		instances[who]++
	}
	t.Logf("%d writes acknowledged: %d by %d instances %v, %d by the native process; %d answers \"database is locked\" (native: %d); %d consistent reads",
		len(acked)+len(nat.Acked), len(acked), len(instances), instances, len(nat.Acked), locked.Load(), nat.Locked, checks.Load())

	if after.Integrity != "ok" {
		t.Errorf("PRAGMA integrity_check: %s", after.Integrity)
	}
	in := map[int64]bool{}
	for _, id := range after.IDs {
		in[id] = true
	}
	lost := 0
	for id := range acked {
		if !in[id] {
			lost++
		}
	}
	for _, id := range nat.Acked {
		if !in[id] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d acknowledged writes are not in the table", lost)
	}
	if want := int64(len(acked) + len(nat.Acked)); int64(len(after.IDs)) != want || after.Counter != want {
		t.Errorf("the table has %d rows and the counter says %d, for %d acknowledged writes", len(after.IDs), after.Counter, want)
	}
	// The load ran: several instances and the native process wrote.
	if len(instances) < 2 || len(acked) < 20 || len(nat.Acked) == 0 {
		t.Errorf("too little concurrency to prove anything: %d instances, %d guest writes, %d native", len(instances), len(acked), len(nat.Acked))
	}
}

// TestPythonSQLiteImportTime: a connection made at import time is in the
// snapshot, but its files are not (an instance's descriptors are the
// host's): the runtime opens them again under the same numbers in every
// instance started from the snapshot, so the connection works there. One
// that the import left inside a transaction cannot (the copy would
// believe it holds a lock it does not): the log says so at start, and in
// the copies its use fails with an I/O error instead of writing
// unprotected.
func TestPythonSQLiteImportTime(t *testing.T) {
	pythonRuntime(t)
	py := nativeSQLite(t)
	data := t.TempDir()
	th := startHost(t, fmt.Sprintf(`
[server]
cache_dir = %q
access_log = "off"
[groups.fresh]
max_requests = 1
[[site]]
name = "early"
hosts = ["early.test"]
root = %q
  [[site.app]]
  name = "main"
  mount = "/"
  group = "fresh"
  runtime = "python"
  wsgi = "sqliteearly"
  python_path = ["testdata/python/sqlite"]
  dirs = [{ guest = "/data", host = %[3]q, mode = "rw" }]
  env = { SQLITE_EARLY = "/data/early.sqlite3" }
  [[site.app]]
  name = "held"
  mount = "/held"
  group = "fresh"
  runtime = "python"
  wsgi = "sqliteearly"
  python_path = ["testdata/python/sqlite"]
  dirs = [{ guest = "/data", host = %[3]q, mode = "rw" }]
  env = { SQLITE_EARLY = "/data/held.sqlite3", SQLITE_HOLD = "1" }
`, testwasm.CacheDir(t), testwasm.Root(t), data))

	// max_requests = 1: each request has an instance of its own.
	for i := range 3 {
		resp, body := th.do(t, "GET", "early.test", "/", nil)
		if want := fmt.Sprint(i + 2); resp.StatusCode != 200 || body != want {
			t.Fatalf("request %d through the import-time connection: %d %q, want %s rows", i, resp.StatusCode, body, want)
		}
	}
	failed := 0
	for i := range 3 {
		resp, body := th.do(t, "GET", "early.test", "/held", nil)
		switch {
		case resp.StatusCode == 200 && body == "OperationalError: disk I/O error":
			failed++
		case resp.StatusCode == 200 && body == fmt.Sprint(i+2):
			// the instance that imported the app, whose lock is real
		default:
			t.Fatalf("request %d through a connection left in a transaction: %d %q", i, resp.StatusCode, body)
		}
	}
	if failed < 2 {
		t.Errorf("%d of 3 copies used a connection the import left in a transaction", 3-failed)
	}
	if !strings.Contains(th.logs.String(), "still open at the end of the import") {
		t.Errorf("no warning in the log about the transaction left open:\n%s", th.logs.String())
	}
	for _, db := range []string{"early.sqlite3", "held.sqlite3"} {
		if out := runNative(t, py, `import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])`, filepath.Join(data, db)); out != "ok\n" {
			t.Errorf("%s: integrity_check %q", db, out)
		}
	}
}

// TestPythonSQLiteDjango: a Django project with Django's default SQLite
// settings (the file in an rw dir) works in the guest, beside a native
// python3 manage.py on the same database: migrate and a user made
// natively, users made through the app, each side seeing the other's.
func TestPythonSQLiteDjango(t *testing.T) {
	if raceEnabled {
		t.Skip("Django under the race detector: covered by the normal run")
	}
	pythonRuntime(t)
	py := nativeSQLite(t)
	debianPython(t, "django")
	data := t.TempDir()
	project := filepath.Join(testwasm.Root(t), "testdata", "python", "sqlite")
	manage := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(py, append([]string{"manage.py"}, args...)...)
		cmd.Dir = project
		cmd.Env = append(os.Environ(), "DJANGO_DB="+filepath.Join(data, "django.sqlite3"), "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("manage.py %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	manage("migrate", "-v0")
	manage("shell", "-c", "from django.contrib.auth.models import User; User.objects.create(username='native')")
	th := startHost(t, fmt.Sprintf(`
[server]
cache_dir = %q
access_log = "off"
[[site]]
name = "dj"
hosts = ["dj.test"]
root = %q
  [[site.app]]
  name = "main"
  mount = "/"
  runtime = "python"
  wsgi = "djsite.wsgi:application"
  python_path = ["testdata/python/sqlite", "/usr/lib/python3/dist-packages"]
  dirs = [{ guest = "/data", host = %q, mode = "rw" }]
  env = { DJANGO_SETTINGS_MODULE = "djsite.settings", DJANGO_DB = "/data/django.sqlite3" }
`, testwasm.CacheDir(t), testwasm.Root(t), data))
	var got struct{ Users []string }
	getJSON(t, th, "dj.test", "/users?add=alice", &got)
	getJSON(t, th, "dj.test", "/users?add=bob", &got)
	if strings.Join(got.Users, " ") != "alice bob native" {
		t.Fatalf("users through the app: %v", got.Users)
	}
	out := manage("shell", "-c", "from django.contrib.auth.models import User; print(sorted(User.objects.values_list('username', flat=True)))")
	if out != "['alice', 'bob', 'native']\n" {
		t.Fatalf("users seen natively: %q", out)
	}
}
