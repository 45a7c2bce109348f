"""A plain WSGI app for the host's Python tests."""

import json
import os
import random
import sys

# Made once per interpreter start: instances restored from a snapshot share it.
IMPORT_TOKEN = os.urandom(8).hex()


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/types":
        out = {k: type(v).__name__ for k, v in environ.items()}
        out["wsgi.version"] = list(environ["wsgi.version"])
        for k in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once", "wsgi.url_scheme"):
            out["value " + k] = environ[k]
        out["has input.read"] = hasattr(environ["wsgi.input"], "read") and hasattr(environ["wsgi.input"], "readline")
        environ["wsgi.errors"].write("a line for wsgi.errors\n")
        return _json(start_response, out)
    if path == "/echo":
        # Streams: reads the body in blocks and yields each back at once.
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _blocks(environ["wsgi.input"])
    if path == "/lines":
        first = environ["wsgi.input"].readline()
        rest = environ["wsgi.input"].read()
        return _json(start_response, {"first": first.decode(), "rest": len(rest)})
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"and returned\n"]
    if path == "/state":
        return _json(start_response, {"token": IMPORT_TOKEN, "random": random.random()})
    if path == "/home":
        import greet  # from python_home's site-packages

        return _json(start_response, {"greet": greet.hello(), "path": sys.path})
    if path == "/env":
        return _json(start_response, {k: os.environ.get(k) for k in ("SECRET", "WASGI_WSGI")})
    if path == "/deep":
        # Deep but ordinary stacks, near Python's own limits: recursion in
        # Python code, and in C (json, repr) through nested lists.
        limit = sys.getrecursionlimit()
        nested = []
        for _ in range(min(limit, 1000) - 100):
            nested = [nested]
        out = {"python": _depth(limit - 100), "json": len(json.dumps(nested)), "repr": len(repr(nested))}
        try:
            _depth(limit + 100)
        except RecursionError:
            out["RecursionError"] = True
        return _json(start_response, out)
    if path == "/badheader":
        # Not latin-1: the bridge refuses it (TypeError, a 500).
        start_response("200 OK", [("X-Name", "\u0107")])
        return [b"never sent"]
    if path == "/headers":
        # A tuple subclass, an iterable, and the app's own Content-Length
        # (kept, none added), in any case.
        from collections import namedtuple

        H = namedtuple("H", "name value")
        body = b"with my own length"
        start_response("200 OK", iter([H("X-Kind", "named"), ("content-LENGTH", str(len(body))), ("X-Latin", "\u00e9t\u00e9")]))
        return [body]
    if path == "/boom":
        raise ValueError("boom with a secret the client must not see")
    # Anything else: the path as the app sees it, decoded as WSGI apps do.
    text = path.encode("latin-1").decode("utf-8")
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [("path=%s\n" % text).encode("utf-8")]


def _depth(n):
    return 0 if n == 0 else 1 + _depth(n - 1)


def _blocks(stream):
    while True:
        b = stream.read(65536)
        if not b:
            return
        yield b


def _json(start_response, obj):
    body = json.dumps(obj).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


USERS = {"alice": ("right", ["staff"]), "bob": ("pw", []), "élodie": ("ça", ["staff"])}


def check_password(environ, user, password):
    if user == "trap":
        raise RuntimeError("provider bug")
    if user not in USERS:
        return None
    return USERS[user][0] == password


def groups_for_user(environ, user):
    return USERS.get(user, ("", []))[1]
