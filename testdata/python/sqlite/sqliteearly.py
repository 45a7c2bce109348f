"""A SQLite connection made at import time, that is during _initialize,
before the host snapshots the instance (host/python_sqlite_test.go).
With SQLITE_HOLD set, the import also leaves a read transaction open."""

import os
import sqlite3

db = sqlite3.connect(os.environ["SQLITE_EARLY"], isolation_level=None)
db.execute("CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY, at TEXT)")
db.execute("INSERT INTO hits (at) VALUES ('import')")
held = None
if os.environ.get("SQLITE_HOLD"):
    held = db.execute("SELECT * FROM hits, (SELECT 1 UNION ALL SELECT 2)")  # two rows, one read:
    held.fetchone()  # the statement is not done, and keeps its lock


def application(environ, start_response):
    try:
        db.execute("INSERT INTO hits (at) VALUES ('request')")
        body = str(db.execute("SELECT count(*) FROM hits").fetchone()[0])
    except sqlite3.Error as e:
        body = "%s: %s" % (type(e).__name__, e)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
