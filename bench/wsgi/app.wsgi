# The bench cases as a plain WSGI app, for Apache + mod_wsgi in daemon mode.
def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/env":
        env = {k: v for k, v in environ.items() if isinstance(v, str)}
        body = "".join("%s=%s\n" % (k, env[k]) for k in sorted(env)).encode("utf-8", "surrogateescape")
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/echo":
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(n)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))])
        return [body]
    body = ("Hello from wasgi! You asked for %s\n" % path).encode("utf-8", "surrogateescape")
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]
