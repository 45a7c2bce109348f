"""Opens a connection at import time, that is during _initialize, before
the host snapshots the instance (host/python_net_test.go)."""

import os
import socket


def _addr(name):
    host, _, port = os.environ[name].rpartition(":")
    return host, int(port)


early = socket.create_connection(_addr("NET_AT_IMPORT"))


def application(environ, start_response):
    fresh = socket.create_connection(_addr("NET_FRESH"))
    try:
        early.sendall(b"through the import-time socket\n")
        result = "sent"
    except OSError as e:
        result = "%s: %s" % (type(e).__name__, e)
    fresh.sendall(b"fresh\n")
    fresh.close()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [result.encode()]
