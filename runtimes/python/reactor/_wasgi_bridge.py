"""WSGI (PEP 3333) on the wasgi ABI.

The C runtime calls start() once per instance (inside _initialize, so the
host can snapshot the result), then handle() once per request and
check_password()/groups_for_user() for each auth check. The application's
own errors are answered here: a traceback goes to the host log, the client
gets a plain 500. Sockets are _wasgi_socket's, installed into the stdlib
socket module before anything else is imported; ssl is the runtime's own
(reactor/ssl.py).
"""

import importlib
import io
import os
import sys
import traceback

import _wasgi
import _wasgi_socket

LOG_INFO, LOG_WARN, LOG_ERROR = 1, 2, 3

_app = None
_check = None
_groups = None


def _resolve(target):
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in (attr or "application").split("."):
        obj = getattr(obj, part)
    return obj


def start():
    """Imports the application named by WASGI_WSGI (and the auth hooks)."""
    global _app, _check, _groups
    _wasgi_socket.install()  # before any .pth file or app module imports socket
    _install_pbkdf2()
    site_dir = os.environ.get("WASGI_PYTHON_SITE")
    if site_dir:
        import site

        site.addsitedir(site_dir)  # honours .pth files, as a virtualenv does
    if os.environ.get("WASGI_PYTHON_RUN"):
        return  # a one-shot run: its stdio is the caller's, run() does the rest
    sys.stdout = _LogStream(LOG_INFO)
    sys.stderr = _LogStream(LOG_ERROR)
    target = os.environ["WASGI_WSGI"]
    try:
        _app = _resolve(target)
    except Exception as e:
        _log_exception("cannot import the WSGI application %s" % target)
        # One line the host shows (wasgi check, the failed request's log):
        # the exception, and the file and line of the app's code it came from.
        problem = "%s%s: %s" % (PROBLEM, target, _where(e))
        print(problem, file=sys.__stderr__, flush=True)
        raise RuntimeError(problem) from None
    # An auth provider that cannot be imported fails its auth checks (a
    # 500 for the locations it protects), not the whole site.
    for var, name in (("WASGI_CHECK_PASSWORD", "check_password"), ("WASGI_GROUPS_FOR_USER", "groups_for_user")):
        hook = os.environ.get(var)
        if not hook:
            continue
        try:
            fn = _resolve(hook)
        except Exception as e:
            _log_exception("cannot import %s %s" % (name, hook))
            _hook_errors[name] = "%s %s: %s" % (name, hook, _where(e))
            print("%s%s" % (PROBLEM, _hook_errors[name]), file=sys.__stderr__, flush=True)
            continue
        if name == "check_password":
            _check = fn
        else:
            _groups = fn


def _install_pbkdf2():
    """hashlib.pbkdf2_hmac computed by the host: without OpenSSL, CPython's
    pure-Python fallback takes seconds per Django password check in wasm."""
    import hashlib

    fallback = hashlib.pbkdf2_hmac

    def pbkdf2_hmac(hash_name, password, salt, iterations, dklen=None):
        if isinstance(password, str) or isinstance(salt, str):
            raise TypeError("password and salt must be bytes-like")
        if dklen is None:
            dklen = hashlib.new(hash_name).digest_size
        key = None
        if isinstance(hash_name, str) and 1 <= dklen <= 1024 and iterations >= 1:
            key = _wasgi.pbkdf2_hmac(hash_name.lower(), password, salt, iterations, dklen)
        if key is None:
            return fallback(hash_name, password, salt, iterations, dklen)
        return key

    pbkdf2_hmac.__doc__ = fallback.__doc__
    hashlib.pbkdf2_hmac = pbkdf2_hmac


# PROBLEM starts a line the runtime writes to stderr for the host to report
# (wasgi check): what cannot work, and where.
PROBLEM = "wasgi-problem: "

# Auth hooks that could not be imported: their checks fail, naming why.
_hook_errors = {}


def _where(e):
    """The exception, and the innermost frame of the app's own code (not
    the importer's): "ModuleNotFoundError: No module named 'x' (file, line N)"."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if "importlib" not in f.filename and f.filename != __file__]
    where = ""
    if isinstance(e, SyntaxError) and e.filename:
        where = " (%s, line %s)" % (e.filename, e.lineno)
    elif frames:
        where = " (%s, line %d)" % (frames[-1].filename, frames[-1].lineno)
    return "%s: %s%s" % (type(e).__name__, e, where)


def run():
    """Runs sys.argv[1:] as `python ARGS...` does (a script, -m module or
    -c code) and returns the exit status: wasgi manage's entry point."""
    import runpy

    args = sys.argv[1:]
    try:
        if not args:
            print("wasgi run: no command (try: manage.py help)", file=sys.stderr)
            return 2
        if args[0] == "-m" and len(args) > 1:
            sys.argv = args[1:]
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        elif args[0] == "-c" and len(args) > 1:
            sys.argv = ["-c"] + args[2:]
            exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
        else:
            sys.argv = args
            sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
            runpy.run_path(args[0], run_name="__main__")
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code & 0xFF
        print(e.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
    return 0


def restored():
    """Renews per-instance state in an instance started from a snapshot."""
    random = sys.modules.get("random")
    if random is not None:
        random.seed()
    _wasgi_socket.restored()  # sockets opened at import belong to the source instance
    return 0


class _LogStream(io.TextIOBase):
    """A text stream whose lines go to the host log (wsgi.errors, stderr)."""

    def __init__(self, level):
        self._level = level
        self._buf = ""

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        self._buf += s
        if "\n" in self._buf:
            *lines, self._buf = self._buf.split("\n")
            for line in lines:
                _wasgi.log(self._level, line.encode("utf-8", "backslashreplace"))
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if self._buf:
            _wasgi.log(self._level, self._buf.encode("utf-8", "backslashreplace"))
            self._buf = ""


class _Body(io.RawIOBase):
    """The request body, pulled from the host as the app reads it."""

    def readable(self):
        return True

    def readinto(self, b):
        return _wasgi.readinto(b)


class _FileWrapper:
    """wsgi.file_wrapper: iterates a file-like object in blocks."""

    def __init__(self, filelike, blksize=65536):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        read = self.filelike.read
        while True:
            data = read(self.blksize)
            if not data:
                return
            yield data


def _is_latin1(s):
    try:
        s.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


class _Response:
    """start_response and the body writes of one request."""

    def __init__(self):
        self.status = None
        self.headers = None
        self.sent = False

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        if not isinstance(status, str) or not _is_latin1(status):
            raise TypeError("status must be a latin-1 str, like '200 OK'")
        block, has_length = _wasgi.header_block(headers)
        self.status = status
        self.headers = block
        self.has_length = has_length
        return self.write

    def send_headers(self, length=None):
        if self.status is None:
            raise AssertionError("the application returned a body before calling start_response")
        if not self.sent:
            headers = self.headers
            if length is not None and not self.has_length:
                headers += b"Content-Length: %d\r\n" % length
            _wasgi.start_response(self.status.encode("latin-1"), headers)
            self.sent = True

    def write(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("the application must write bytes, not %s" % type(data).__name__)
        self.send_headers()
        if data:
            _wasgi.write(data)


def _log_exception(what):
    text = "".join(traceback.format_exception(*sys.exc_info()))
    _wasgi.log(LOG_ERROR, ("%s\n%s" % (what, text.rstrip())).encode("utf-8", "backslashreplace"))


def _error_500(resp):
    body = b"Internal Server Error\n"
    _wasgi.start_response(
        b"500 Internal Server Error",
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n" % len(body),
    )
    _wasgi.write(body)


def handle():
    environ = _wasgi.environ_dict()  # PEP 3333: native strings holding the bytes as latin-1
    environ["wsgi.version"] = (1, 0)
    environ["wsgi.url_scheme"] = "https" if environ.get("HTTPS") == "on" else "http"
    environ["wsgi.input"] = io.BufferedReader(_Body(), 65536)
    errors = _LogStream(LOG_ERROR)
    environ["wsgi.errors"] = errors
    environ["wsgi.multithread"] = False
    environ["wsgi.multiprocess"] = True
    environ["wsgi.run_once"] = False
    environ["wsgi.file_wrapper"] = _FileWrapper
    resp = _Response()
    result = None
    try:
        result = _app(environ, resp.start_response)
        if isinstance(result, (list, tuple)) and len(result) == 1 and resp.status is not None:
            # One block: its length is known, so the client gets a
            # Content-Length instead of a chunked body, as under mod_wsgi.
            data = result[0]
            resp.send_headers(len(data))
            if data:
                _wasgi.write(data)
        else:
            for data in result:
                resp.write(data)
            resp.send_headers()
    except _wasgi.BodyTooLarge:
        _log_exception("request body too large")
        if not resp.sent:
            body = b"Request Entity Too Large\n"
            _wasgi.start_response(b"413 Request Entity Too Large", b"Content-Length: %d\r\n" % len(body))
            _wasgi.write(body)
            return 0
        return 1
    except Exception:
        _log_exception("exception in the WSGI application %s" % os.environ.get("WASGI_WSGI"))
        if resp.sent:
            return 1  # the host cuts the connection: the body is incomplete
        try:
            _error_500(resp)
        except Exception:
            return 1
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                _log_exception("exception in the close() of the WSGI response")
        errors.flush()
    return 0


def _auth_environ():
    env = _wasgi.environ_dict()
    env["wsgi.errors"] = sys.stderr
    return env


def _text(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def check_password():
    """WSGIAuthUserScript: True -> 1, False -> 0, None -> -1."""
    if _check is None:
        why = _hook_errors.get("check_password", "no check_password in the app's config")
        _wasgi.log(LOG_ERROR, ("auth check failed: %s" % why).encode("utf-8", "backslashreplace"))
        return 2
    try:
        ok = _check(_auth_environ(), _text(_wasgi.auth_user()), _text(_wasgi.auth_password()))
    except Exception:
        _log_exception("exception in check_password")
        return 2
    if ok is None:
        return -1
    return 1 if ok is True else 0 if ok is False else 2


def groups_for_user():
    """WSGIAuthGroupScript: the user's group names."""
    if _groups is None:
        if "groups_for_user" in _hook_errors:
            _wasgi.log(LOG_ERROR, ("group lookup failed: %s" % _hook_errors["groups_for_user"]).encode("utf-8", "backslashreplace"))
            return 2
        _wasgi.auth_groups(b"")
        return 0
    try:
        groups = _groups(_auth_environ(), _text(_wasgi.auth_user()))
        names = []
        for g in groups or ():
            if isinstance(g, bytes):
                g = g.decode("utf-8")
            names.append(g)
        _wasgi.auth_groups("\n".join(names).encode("utf-8"))
    except Exception:
        _log_exception("exception in groups_for_user")
        return 2
    return 0
