"""SQLite in the Python runtime, for host/python_sqlite_test.go.

The databases are in SQLITE_DIR (the app's rw dir); ?db= names one.

  /basic    create a table, insert, select
  /write    one transaction of the concurrency test: the counter row goes
            up by one and a row with ?id= is inserted, so that in every
            consistent state count(*) of t equals the counter
  /check    reads both in one transaction: 500 if they differ
  /wal      PRAGMA journal_mode=WAL, which wasgi refuses
"""

import json
import os
import sqlite3

DIR = os.environ.get("SQLITE_DIR", "/data")

_instance = None  # made on the first request: the snapshot's copies differ
_dbs = {}  # (path, timeout) -> a connection kept across requests


def _path(environ):
    q = dict(p.partition("=")[::2] for p in environ.get("QUERY_STRING", "").split("&") if p)
    return os.path.join(DIR, q.get("db", "db.sqlite3")), q


def _kept(path, q):
    key = (path, float(q.get("timeout", "5")))
    if key not in _dbs:
        _dbs[key] = sqlite3.connect(path, isolation_level=None, timeout=key[1])
    return _dbs[key]


def application(environ, start_response):
    global _instance
    if _instance is None:
        _instance = os.urandom(4).hex()
    path, q = _path(environ)
    route = environ["PATH_INFO"]
    try:
        if route == "/basic":
            db = sqlite3.connect(path)
            with db:
                db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT)")
                db.execute("INSERT INTO notes (text) VALUES (?)", (q.get("text", "hello"),))
            rows = db.execute("SELECT id, text FROM notes ORDER BY id").fetchall()
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            db.close()
            return _json(start_response, {
                "rows": rows, "journal_mode": mode, "version": sqlite3.sqlite_version,
                "ino": os.stat(path).st_ino,
            })
        if route == "/write":
            db = _kept(path, q)
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("UPDATE counter SET n = n + 1")
                db.execute("INSERT INTO t (id, who, pad) VALUES (?, ?, randomblob(200))", (int(q["id"]), _instance))
                db.execute("COMMIT")
            except sqlite3.OperationalError as e:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if "locked" in str(e):
                    return _text(start_response, "503 Service Unavailable", "locked")
                raise
            return _text(start_response, "200 OK", _instance)
        if route == "/check":
            db = _kept(path, q)
            try:
                db.execute("BEGIN")
                count = db.execute("SELECT count(*) FROM t").fetchone()[0]
                n = db.execute("SELECT n FROM counter").fetchone()[0]
                db.execute("COMMIT")
            except sqlite3.OperationalError as e:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if "locked" in str(e):
                    return _text(start_response, "503 Service Unavailable", "locked")
                raise
            if count != n:
                return _text(start_response, "500 Internal Server Error", "inconsistent: %d rows, counter %d" % (count, n))
            return _text(start_response, "200 OK", "%d" % count)
        if route == "/wal":
            db = sqlite3.connect(path)
            try:
                got = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                out = {"result": got}
            except sqlite3.Error as e:
                out = {"error": type(e).__name__, "message": str(e)}
            out["journal_mode"] = db.execute("PRAGMA journal_mode").fetchone()[0]
            db.close()
            return _json(start_response, out)
    except Exception as e:
        return _text(start_response, "500 Internal Server Error", "%s: %s" % (type(e).__name__, e))
    return _text(start_response, "404 Not Found", "no route " + route)


def _text(start_response, status, text):
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [text.encode()]


def _json(start_response, obj):
    body = json.dumps(obj).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
