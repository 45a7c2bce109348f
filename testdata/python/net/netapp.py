"""A WSGI app for the host's outbound-connection tests (host/python_net_test.go).

Each path runs one unmodified client from the query string's parameters
and answers 200 with its result as JSON, or 502 with the exception:
{"error": class name, "errno": errno name or null, "message": str(e)}.
"""

import errno
import json
import socket
import time
import urllib.parse
import urllib.request

# A client kept across requests, as an app keeps its database pool.
_redis = None


def application(environ, start_response):
    q = {k: v[-1] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}
    path = environ["PATH_INFO"].strip("/")
    try:
        result = ROUTES[path](q, environ)
    except Exception as e:
        cause = e
        while getattr(cause, "reason", None) is not None and isinstance(cause.reason, BaseException):
            cause = cause.reason  # urllib.error.URLError wraps the socket's error
        return _json(start_response, "502 Bad Gateway", {
            "error": type(cause).__name__,
            "errno": errno.errorcode.get(getattr(cause, "errno", None) or 0),
            "message": str(cause),
            "outer": type(e).__name__,
        })
    return _json(start_response, "200 OK", result)


def fetch(q, environ):
    """urllib.request.urlopen(url), a POST of post_bytes bytes if given:
    the body, status and a header."""
    data = b"x" * int(q["post_bytes"]) if "post_bytes" in q else None
    req = urllib.request.Request(q["url"], data=data)
    timeout = float(q["timeout"]) if "timeout" in q else None
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return {"status": resp.status, "body": resp.read().decode(), "server": resp.headers.get("X-Test-Server")}


def smtp(q, environ):
    import smtplib
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "app@example.com"
    msg["To"] = q["to"]
    msg["Subject"] = "from wasgi"
    msg.set_content(q["body"])
    with smtplib.SMTP(q["host"], int(q["port"]), timeout=10) as s:
        refused = s.send_message(msg)
    return {"refused": refused}


def mysql(q, environ):
    import pymysql

    conn = pymysql.connect(host=q["host"], port=int(q["port"]), user=q["user"], password=q["password"],
                           database=q["database"], connect_timeout=10)
    try:
        with conn.cursor() as c:
            c.execute("CREATE TABLE IF NOT EXISTS wasgi_net (id INT PRIMARY KEY, name VARCHAR(64))")
            c.execute("REPLACE INTO wasgi_net VALUES (%s, %s)", (1, q["name"]))
            conn.commit()
            c.execute("SELECT name FROM wasgi_net WHERE id = 1")
            (name,) = c.fetchone()
            c.execute("SELECT VERSION()")
            (version,) = c.fetchone()
    finally:
        conn.close()
    return {"name": name, "version": version}


def redis(q, environ):
    global _redis
    import redis

    if _redis is None:
        _redis = redis.Redis(host=q["host"], port=int(q["port"]), password=q.get("password") or None,
                             socket_timeout=10)
    r = _redis
    r.set("wasgi:key", q["value"])
    pipe = r.pipeline()
    for i in range(50):
        pipe.rpush("wasgi:list", i)
    pipe.execute()
    return {"value": r.get("wasgi:key").decode(), "incr": r.incr("wasgi:counter"),
            "len": r.llen("wasgi:list"), "client_id": r.client_id()}


_select1 = None


def select1(q, environ):
    """SELECT 1 on a PyMySQL connection kept across requests; the query's
    own time, as the app sees it, in microseconds."""
    global _select1
    import pymysql

    if _select1 is None:
        _select1 = pymysql.connect(host=q["host"], port=int(q["port"]), user=q["user"], password=q["password"],
                                   database=q["database"], connect_timeout=10)
    t0 = time.perf_counter()
    with _select1.cursor() as c:
        c.execute("SELECT 1")
        (one,) = c.fetchone()
    return {"one": one, "us": (time.perf_counter() - t0) * 1e6}


def connect(q, environ):
    """socket.create_connection, then optionally a recv with a timeout."""
    s = socket.create_connection((q["host"], int(q["port"])))
    try:
        out = {"peer": list(s.getpeername())}
        if "recv_timeout" in q:
            s.settimeout(float(q["recv_timeout"]))
            t0 = time.monotonic()
            try:
                out["data"] = s.recv(100).decode()
            except socket.timeout as e:
                out["timeout"] = "%s: %s" % (type(e).__name__, e)
            out["elapsed"] = time.monotonic() - t0
        return out
    finally:
        s.close()


def _json(start_response, status, obj):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


ROUTES = {"fetch": fetch, "smtp": smtp, "mysql": mysql, "redis": redis, "connect": connect, "select1": select1}
