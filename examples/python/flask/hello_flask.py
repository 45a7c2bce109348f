"""A Flask app served by wasgi's Python runtime (Debian's python3-flask)."""

from flask import Flask, Response, request

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello from Flask, in a WebAssembly sandbox!\n"


@app.get("/env")
def env():
    """The WSGI environ's wsgi.* keys and their types (PEP 3333)."""
    e = request.environ
    keys = sorted(k for k in e if k.startswith("wsgi.")) + ["SCRIPT_NAME", "PATH_INFO", "QUERY_STRING"]
    return {k: [type(e[k]).__name__, repr(e[k])] for k in keys if k in e}


@app.post("/echo")
def echo():
    """Streams the request body back as it is read."""
    stream = request.stream

    def chunks():
        while True:
            block = stream.read(16384)
            if not block:
                return
            yield block

    return Response(chunks(), mimetype="application/octet-stream")


@app.get("/count/<int:n>")
def count(n):
    """A streamed response: one line at a time."""
    return Response((f"line {i}\n" for i in range(n)), mimetype="text/plain")


@app.get("/boom")
def boom():
    raise RuntimeError("boom: this traceback goes to the host log, not to the client")


application = app
