/*
 * wasgi_python.c — CPython 3.11 as a wasgi reactor.
 *
 * The interpreter starts in a constructor, that is inside the module's
 * _initialize, so the host can snapshot a ready instance (interpreter up,
 * application imported) and start the next ones from that snapshot.
 * Everything WSGI is done in Python by _wasgi_bridge (bridge.py), sockets
 * by _wasgi_socket and TLS by the runtime's ssl (the host's, ABI.md 4.8),
 * SQLite's locks by wasgi_sqlite.c (the host's file_lock, ABI.md 4.9);
 * this file only exposes the host imports to them as the built-in module
 * _wasgi and forwards the exports.
 *
 * The host configures the interpreter through the WASI environment:
 *   WASGI_PYTHON_PATH  colon-separated guest folders put first on sys.path
 *   WASGI_PYTHON_SITE  a site-packages folder (python_home), after them
 *   WASGI_WSGI         "module:callable"
 *   WASGI_CHECK_PASSWORD, WASGI_GROUPS_FOR_USER  "module:function" or unset
 *   WASGI_PYTHON_RUN   set for a one-shot run (wasgi manage): the
 *                      application is not imported, sys.argv is the WASI
 *                      args, and wasgi_run runs them as `python ARGS...`
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wasi/api.h>

#include "wasgi.h"

/* The stdlib is preopened here by the host. */
#define PYTHON_HOME L"/usr/local"
#define PYTHON_LIB L"/usr/local/lib/python3.11"

/* wasgi_sqlite.c */
int wasgi_sqlite_init(void);
void wasgi_sqlite_started(void);
void wasgi_sqlite_restored(void);

static PyObject *BodyTooLarge; /* _wasgi.BodyTooLarge, an OSError */

/* fail raises the Python exception matching a negative import result. */
static PyObject *fail(int32_t code, const char *what) {
	switch (code) {
	case WASGI_ERR_BODY_TOO_LARGE:
		PyErr_Format(BodyTooLarge, "%s: request body larger than the server's max_body", what);
		break;
	case WASGI_ERR_IO:
		PyErr_Format(PyExc_OSError, "%s: client connection failed", what);
		break;
	case WASGI_ERR_INVALID_STATUS:
		PyErr_Format(PyExc_ValueError, "%s: invalid status line", what);
		break;
	case WASGI_ERR_INVALID_HEADER:
		PyErr_Format(PyExc_ValueError, "%s: invalid response header", what);
		break;
	case WASGI_ERR_ALREADY_STARTED:
		PyErr_Format(PyExc_RuntimeError, "%s: response already started", what);
		break;
	default:
		PyErr_Format(PyExc_RuntimeError, "%s: error %d", what, (int)code);
	}
	return NULL;
}

/* read_value returns a bytes object filled by a (buf, len) -> len import. */
static PyObject *read_value(int32_t (*get)(uint8_t *, uint32_t), const char *what) {
	uint8_t small[256];
	int32_t n = get(small, sizeof small);
	if (n < 0) {
		return fail(n, what);
	}
	if ((uint32_t)n <= sizeof small) {
		return PyBytes_FromStringAndSize((const char *)small, n);
	}
	PyObject *b = PyBytes_FromStringAndSize(NULL, n);
	if (b == NULL) {
		return NULL;
	}
	int32_t m = get((uint8_t *)PyBytes_AS_STRING(b), (uint32_t)n);
	if (m != n) {
		Py_DECREF(b);
		return m < 0 ? fail(m, what) : PyErr_Format(PyExc_RuntimeError, "%s changed size", what);
	}
	return b;
}

static int32_t environ_read(uint8_t *buf, uint32_t len) {
	return wasgi_environ_read(buf, len);
}

static PyObject *w_environ(PyObject *self, PyObject *unused) {
	return read_value(environ_read, "environ_read");
}

/* environ_dict() -> dict: the request environ as PEP 3333 wants it, each
 * KEY=VALUE\0 entry's bytes decoded as latin-1. Built here rather than in
 * the bridge: split, partition and two decodes per entry, in the
 * interpreter, were a tenth of a Django hello's time (110 of 1,000 µs). */
static PyObject *w_environ_dict(PyObject *self, PyObject *unused) {
	char stack[8192];
	char *buf = stack;
	int32_t n = wasgi_environ_read((uint8_t *)stack, sizeof stack);
	if (n < 0) {
		return fail(n, "environ_read");
	}
	if ((uint32_t)n > sizeof stack) {
		if ((buf = PyMem_Malloc(n)) == NULL) {
			return PyErr_NoMemory();
		}
		int32_t m = wasgi_environ_read((uint8_t *)buf, (uint32_t)n);
		if (m != n) {
			PyMem_Free(buf);
			return m < 0 ? fail(m, "environ_read") : PyErr_Format(PyExc_RuntimeError, "environ_read changed size");
		}
	}
	PyObject *env = PyDict_New();
	for (const char *p = buf, *end = buf + n; env != NULL && p < end;) {
		const char *e = memchr(p, '\0', end - p);
		if (e == NULL) {
			e = end;
		}
		const char *eq = memchr(p, '=', e - p);
		if (e > p) {
			const char *ke = eq ? eq : e;
			const char *v = eq ? eq + 1 : e;
			PyObject *k = PyUnicode_DecodeLatin1(p, ke - p, NULL);
			PyObject *val = k ? PyUnicode_DecodeLatin1(v, e - v, NULL) : NULL;
			if (val == NULL || PyDict_SetItem(env, k, val) < 0) {
				Py_CLEAR(env);
			}
			Py_XDECREF(k);
			Py_XDECREF(val);
		}
		p = e + 1;
	}
	if (buf != stack) {
		PyMem_Free(buf);
	}
	return env;
}

static PyObject *w_auth_user(PyObject *self, PyObject *unused) {
	return read_value(wasgi_auth_user, "auth_user");
}

static PyObject *w_auth_password(PyObject *self, PyObject *unused) {
	return read_value(wasgi_auth_password, "auth_password");
}

/* readinto(buffer) -> int: body bytes read, 0 at the end of the body. */
static PyObject *w_readinto(PyObject *self, PyObject *arg) {
	Py_buffer view;
	if (PyObject_GetBuffer(arg, &view, PyBUF_WRITABLE) < 0) {
		return NULL;
	}
	uint32_t len = view.len > 0x7fffffff ? 0x7fffffff : (uint32_t)view.len;
	int32_t n = wasgi_body_read(view.buf, len);
	PyBuffer_Release(&view);
	if (n < 0) {
		return fail(n, "reading the request body");
	}
	return PyLong_FromLong(n);
}

/* header_block(headers) -> (bytes, has_content_length): the WSGI response
 * headers, a list of (name, value) tuples of latin-1 str, as one
 * "Name: value\r\n" block. Checked and joined here rather than in the
 * bridge, where a Django answer's seven headers cost tens of µs. */
static PyObject *w_header_block(PyObject *self, PyObject *headers) {
	PyObject *seq = PySequence_Fast(headers, "headers must be a list of (name, value) tuples");
	if (seq == NULL) {
		return NULL;
	}
	Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), size = 0;
	PyObject **items = PySequence_Fast_ITEMS(seq);
	int has_length = 0;
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *h = items[i];
		if (!PyTuple_Check(h) || PyTuple_GET_SIZE(h) != 2) {
			Py_DECREF(seq);
			return PyErr_Format(PyExc_TypeError, "headers must be a list of (name, value) tuples");
		}
		PyObject *name = PyTuple_GET_ITEM(h, 0), *value = PyTuple_GET_ITEM(h, 1);
		if (!PyUnicode_Check(name) || !PyUnicode_Check(value) || PyUnicode_READY(name) < 0 || PyUnicode_READY(value) < 0 ||
			PyUnicode_KIND(name) != PyUnicode_1BYTE_KIND || PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND) {
			Py_DECREF(seq);
			PyErr_Clear();
			return PyErr_Format(PyExc_TypeError, "header %R: name and value must be latin-1 str", h);
		}
		Py_ssize_t nl = PyUnicode_GET_LENGTH(name);
		if (nl == 14 && strncasecmp((const char *)PyUnicode_1BYTE_DATA(name), "content-length", 14) == 0) {
			has_length = 1;
		}
		size += nl + PyUnicode_GET_LENGTH(value) + 4;
	}
	PyObject *block = PyBytes_FromStringAndSize(NULL, size);
	if (block == NULL) {
		Py_DECREF(seq);
		return NULL;
	}
	char *p = PyBytes_AS_STRING(block);
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *name = PyTuple_GET_ITEM(items[i], 0), *value = PyTuple_GET_ITEM(items[i], 1);
		Py_ssize_t nl = PyUnicode_GET_LENGTH(name), vl = PyUnicode_GET_LENGTH(value);
		memcpy(p, PyUnicode_1BYTE_DATA(name), nl);
		p += nl;
		*p++ = ':';
		*p++ = ' ';
		memcpy(p, PyUnicode_1BYTE_DATA(value), vl);
		p += vl;
		*p++ = '\r';
		*p++ = '\n';
	}
	Py_DECREF(seq);
	return Py_BuildValue("(NO)", block, has_length ? Py_True : Py_False);
}

/* start_response(status: bytes, headers: bytes) */
static PyObject *w_start_response(PyObject *self, PyObject *args) {
	const char *status, *headers;
	Py_ssize_t sl, hl;
	if (!PyArg_ParseTuple(args, "y#y#", &status, &sl, &headers, &hl)) {
		return NULL;
	}
	int32_t r = wasgi_start_response(status, (uint32_t)sl, headers, (uint32_t)hl);
	if (r < 0) {
		return fail(r, "start_response");
	}
	Py_RETURN_NONE;
}

/* write(data: bytes-like) */
static PyObject *w_write(PyObject *self, PyObject *arg) {
	Py_buffer view;
	if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
		return NULL;
	}
	const uint8_t *p = view.buf;
	Py_ssize_t left = view.len;
	int32_t r = 0;
	while (left > 0 && r >= 0) {
		uint32_t chunk = left > (1 << 30) ? (1 << 30) : (uint32_t)left;
		r = wasgi_body_write(p, chunk);
		p += chunk;
		left -= chunk;
	}
	PyBuffer_Release(&view);
	if (r < 0) {
		return fail(r, "writing the response body");
	}
	Py_RETURN_NONE;
}

/* log(level: int, message: bytes) */
static PyObject *w_log(PyObject *self, PyObject *args) {
	int level;
	const char *msg;
	Py_ssize_t n;
	if (!PyArg_ParseTuple(args, "iy#", &level, &msg, &n)) {
		return NULL;
	}
	wasgi_log(level, msg, (uint32_t)n);
	Py_RETURN_NONE;
}

/* auth_groups(names: bytes), newline-separated */
static PyObject *w_auth_groups(PyObject *self, PyObject *arg) {
	const char *names;
	Py_ssize_t n;
	if (!PyArg_Parse(arg, "y#", &names, &n)) {
		return NULL;
	}
	int32_t r = wasgi_auth_groups(names, (uint32_t)n);
	if (r < 0) {
		return fail(r, "auth_groups");
	}
	Py_RETURN_NONE;
}

/* Outbound connections (ABI.md 4.8). The results map to the exceptions a
 * real socket raises, so that clients' own error handling works:
 *   ErrDenied        PermissionError (EACCES), naming the destination
 *   ErrTimeout       TimeoutError (socket.timeout)
 *   ErrConnect       ConnectionRefusedError (ECONNREFUSED)
 *   ErrTooManyConns  OSError (EMFILE)
 *   ErrBadHandle     OSError (EBADF)
 *   ErrIO            ConnectionResetError (ECONNRESET) */

/* raise_errno raises OSError(errno, message), which Python turns into the
 * subclass of that errno (PermissionError for EACCES...), as
 * PyErr_SetFromErrno does. */
static PyObject *raise_errno(int err, PyObject *msg) {
	if (msg == NULL) {
		return NULL;
	}
	PyObject *e = PyObject_CallFunction(PyExc_OSError, "iN", err, msg);
	if (e != NULL) {
		PyErr_SetObject((PyObject *)Py_TYPE(e), e);
		Py_DECREF(e);
	}
	return NULL;
}

/* net_fail raises the exception of a negative net_ result; dest is the
 * destination of a net_connect, NULL for the other calls. */
static PyObject *net_fail(int32_t code, const char *dest) {
	switch (code) {
	case WASGI_ERR_DENIED:
		return raise_errno(EACCES, PyUnicode_FromFormat(
			"connect to %s: not in this app's outbound list (wasgi), or it resolves to an address wasgi refuses", dest));
	case WASGI_ERR_TIMEOUT:
		if (dest != NULL) {
			return raise_errno(ETIMEDOUT, PyUnicode_FromFormat("connect to %s: timed out", dest));
		}
		PyErr_SetString(PyExc_TimeoutError, "timed out");
		return NULL;
	case WASGI_ERR_CONNECT:
		return raise_errno(ECONNREFUSED, PyUnicode_FromFormat(
			"connect to %s: refused, unreachable or no address, or the TLS handshake failed (wasgi)", dest));
	case WASGI_ERR_TOO_MANY_CONNS:
		return raise_errno(EMFILE, PyUnicode_FromFormat(
			"connect to %s: too many outbound connections (wasgi's outbound_limit or outbound_app_limit)", dest));
	case WASGI_ERR_BAD_HANDLE:
		return raise_errno(EBADF, PyUnicode_FromString("Bad file descriptor (not an open wasgi connection)"));
	case WASGI_ERR_IO:
		return raise_errno(ECONNRESET, PyUnicode_FromString("Connection reset (the connection failed)"));
	default:
		return fail(code, dest != NULL ? "net_connect" : "net_read/net_write");
	}
}

/* net_connect(addr: str) -> (handle, flags): addr is "host:port" or
 * "[v6]:port"; flags has bit 0 (NetTLS) for a tls:// entry. */
static PyObject *w_net_connect(PyObject *self, PyObject *arg) {
	Py_ssize_t n;
	const char *addr = PyUnicode_AsUTF8AndSize(arg, &n);
	if (addr == NULL) {
		return NULL;
	}
	uint32_t info = 0;
	int32_t h = wasgi_net_connect(addr, (uint32_t)n, &info);
	if (h < 0) {
		return net_fail(h, addr);
	}
	return Py_BuildValue("(ik)", (int)h, (unsigned long)info);
}

/* Reads are capped: net_read returns what has come anyway. */
#define NET_READ_MAX (1 << 20)

/* net_read(handle, n, timeout_ms) -> bytes, b"" at the end of the stream. */
static PyObject *w_net_read(PyObject *self, PyObject *args) {
	int h, timeout;
	Py_ssize_t n;
	if (!PyArg_ParseTuple(args, "ini", &h, &n, &timeout)) {
		return NULL;
	}
	if (n < 0) {
		PyErr_SetString(PyExc_ValueError, "negative buffersize in recv");
		return NULL;
	}
	if (n > NET_READ_MAX) {
		n = NET_READ_MAX;
	}
	PyObject *b = PyBytes_FromStringAndSize(NULL, n);
	if (b == NULL) {
		return NULL;
	}
	int32_t r = n == 0 ? 0 : wasgi_net_read(h, (uint8_t *)PyBytes_AS_STRING(b), (uint32_t)n, timeout);
	if (r < 0) {
		Py_DECREF(b);
		return net_fail(r, NULL);
	}
	if (r != n) {
		_PyBytes_Resize(&b, r);
	}
	return b;
}

/* net_readinto(handle, buffer, timeout_ms) -> int, 0 at the end. */
static PyObject *w_net_readinto(PyObject *self, PyObject *args) {
	int h, timeout;
	Py_buffer view;
	if (!PyArg_ParseTuple(args, "iw*i", &h, &view, &timeout)) {
		return NULL;
	}
	uint32_t len = view.len > 0x7fffffff ? 0x7fffffff : (uint32_t)view.len;
	int32_t r = len == 0 ? 0 : wasgi_net_read(h, view.buf, len, timeout);
	PyBuffer_Release(&view);
	if (r < 0) {
		return net_fail(r, NULL);
	}
	return PyLong_FromLong(r);
}

/* net_write(handle, data, timeout_ms) -> int: the bytes sent, fewer than
 * len(data) when the timeout passed after some were. */
static PyObject *w_net_write(PyObject *self, PyObject *args) {
	int h, timeout;
	Py_buffer view;
	if (!PyArg_ParseTuple(args, "iy*i", &h, &view, &timeout)) {
		return NULL;
	}
	uint32_t len = view.len > 0x7fffffff ? 0x7fffffff : (uint32_t)view.len;
	int32_t r = wasgi_net_write(h, view.buf, len, timeout);
	PyBuffer_Release(&view);
	if (r < 0) {
		return net_fail(r, NULL);
	}
	return PyLong_FromLong(r);
}

/* net_shutdown(handle): closes the write side. */
static PyObject *w_net_shutdown(PyObject *self, PyObject *arg) {
	int h = PyLong_AsLong(arg);
	if (h == -1 && PyErr_Occurred()) {
		return NULL;
	}
	int32_t r = wasgi_net_shutdown(h);
	if (r < 0) {
		return net_fail(r, NULL);
	}
	Py_RETURN_NONE;
}

/* net_close(handle): closes the connection, frees the handle. */
static PyObject *w_net_close(PyObject *self, PyObject *arg) {
	int h = PyLong_AsLong(arg);
	if (h == -1 && PyErr_Occurred()) {
		return NULL;
	}
	int32_t r = wasgi_net_close(h);
	if (r < 0) {
		return net_fail(r, NULL);
	}
	Py_RETURN_NONE;
}

/* pbkdf2_hmac(hash_name, password, salt, iterations, dklen) -> bytes, or
 * None for a hash the host does not know (hashlib then does it itself).
 * The host computes it: pure-Python PBKDF2 at Django's iteration counts
 * takes seconds in wasm. */
static PyObject *w_pbkdf2_hmac(PyObject *self, PyObject *args) {
	const char *name;
	Py_ssize_t name_len;
	Py_buffer password, salt;
	int iterations, dklen;
	if (!PyArg_ParseTuple(args, "s#y*y*ii", &name, &name_len, &password, &salt, &iterations, &dklen)) {
		return NULL;
	}
	PyObject *out = NULL;
	if (dklen < 1 || dklen > 1024 || iterations < 1) {
		PyErr_SetString(PyExc_ValueError, "pbkdf2_hmac: dklen must be 1..1024 and iterations at least 1");
		goto done;
	}
	out = PyBytes_FromStringAndSize(NULL, dklen);
	if (out == NULL) {
		goto done;
	}
	int32_t r = wasgi_pbkdf2_hmac(name, (uint32_t)name_len, password.buf, (uint32_t)password.len, salt.buf,
	                              (uint32_t)salt.len, iterations, (uint8_t *)PyBytes_AS_STRING(out), (uint32_t)dklen);
	if (r == WASGI_ERR_IO) {
		Py_CLEAR(out);
		out = Py_NewRef(Py_None);
	} else if (r < 0) {
		Py_CLEAR(out);
		PyErr_SetString(PyExc_TimeoutError, "pbkdf2_hmac: the request's deadline passed");
	}
done:
	PyBuffer_Release(&password);
	PyBuffer_Release(&salt);
	return out;
}

static PyMethodDef methods[] = {
	{"pbkdf2_hmac", w_pbkdf2_hmac, METH_VARARGS, "pbkdf2_hmac(hash_name, password, salt, iterations, dklen) -> bytes or None."},
	{"environ", w_environ, METH_NOARGS, "The request environ, KEY=VALUE\\0 entries."},
	{"environ_dict", w_environ_dict, METH_NOARGS, "The request environ as a dict of latin-1 str."},
	{"readinto", w_readinto, METH_O, "Read request body bytes into a buffer."},
	{"start_response", w_start_response, METH_VARARGS, "Send the status line and headers."},
	{"header_block", w_header_block, METH_O, "header_block(headers) -> (bytes, has_content_length)."},
	{"write", w_write, METH_O, "Send response body bytes."},
	{"log", w_log, METH_VARARGS, "Write to the host log."},
	{"auth_user", w_auth_user, METH_NOARGS, "The Basic auth user name."},
	{"auth_password", w_auth_password, METH_NOARGS, "The Basic auth password."},
	{"auth_groups", w_auth_groups, METH_O, "Answer wasgi_groups_for_user."},
	{"net_connect", w_net_connect, METH_O, "net_connect(addr) -> (handle, flags): open an outbound connection."},
	{"net_read", w_net_read, METH_VARARGS, "net_read(handle, n, timeout_ms) -> bytes, b'' at the end."},
	{"net_readinto", w_net_readinto, METH_VARARGS, "net_readinto(handle, buffer, timeout_ms) -> int."},
	{"net_write", w_net_write, METH_VARARGS, "net_write(handle, data, timeout_ms) -> int: bytes sent."},
	{"net_shutdown", w_net_shutdown, METH_O, "net_shutdown(handle): close the write side."},
	{"net_close", w_net_close, METH_O, "net_close(handle): close the connection."},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_wasgi", "The wasgi host imports.", -1, methods};

static PyObject *init_module(void) {
	PyObject *m = PyModule_Create(&module);
	if (m == NULL) {
		return NULL;
	}
	BodyTooLarge = PyErr_NewException("_wasgi.BodyTooLarge", PyExc_OSError, NULL);
	if (BodyTooLarge == NULL || PyModule_AddObjectRef(m, "BodyTooLarge", BodyTooLarge) < 0 ||
	    PyModule_AddIntConstant(m, "NET_TLS", WASGI_NET_TLS) < 0 ||
	    PyModule_AddIntConstant(m, "NET_WAIT_DEADLINE", WASGI_NET_WAIT_DEADLINE) < 0 ||
	    PyModule_AddIntConstant(m, "NET_POLL", WASGI_NET_POLL) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}

/* The bridge's entry points, resolved once in the constructor. */
static PyObject *handle_fn, *check_fn, *groups_fn, *restored_fn, *run_fn;

/* die reports a failed start and traps, so the host never pools a broken
 * instance: the request that needed it gets 500, the log says why. */
static void die(const char *what) {
	if (PyErr_Occurred()) {
		PyErr_Print();
	}
	fprintf(stderr, "wasgi python runtime: %s\n", what);
	fflush(stderr);
	__builtin_trap();
}

static void check_status(PyStatus st, const char *what) {
	if (PyStatus_Exception(st)) {
		fprintf(stderr, "wasgi python runtime: %s: %s\n", what, st.err_msg ? st.err_msg : "failed");
		fflush(stderr);
		__builtin_trap();
	}
}

/* append_path adds a UTF-8 path to config->module_search_paths. */
static void append_path(PyConfig *config, const char *p) {
	wchar_t *w = Py_DecodeLocale(p, NULL);
	if (w == NULL) {
		die("bad path in WASGI_PYTHON_PATH");
	}
	check_status(PyWideStringList_Append(&config->module_search_paths, w), "sys.path");
	PyMem_RawFree(w);
}

__attribute__((constructor(65535))) static void start_python(void) {
	/* SQLite's locks go through the host before anything can open a
	 * database (sqlite3 is imported by the application, below). */
	if (wasgi_sqlite_init() != 0) {
		fprintf(stderr, "wasgi python runtime: installing SQLite's locks failed\n");
		fflush(stderr);
		__builtin_trap();
	}

	PyPreConfig pre;
	PyPreConfig_InitIsolatedConfig(&pre);
	pre.utf8_mode = 1; /* file names and streams are UTF-8 whatever the locale */
	check_status(Py_PreInitialize(&pre), "pre-initialising");

	if (PyImport_AppendInittab("_wasgi", init_module) < 0) {
		die("registering _wasgi");
	}

	PyConfig config;
	PyConfig_InitIsolatedConfig(&config);
	config.write_bytecode = 0;    /* the code folders are read-only */
	config.site_import = 0;       /* the bridge adds site-packages itself */
	config.install_signal_handlers = 0;
	config.parse_argv = 0;
	config.buffered_stdio = 0;    /* print() reaches the host log at once */
	check_status(PyConfig_SetString(&config, &config.home, PYTHON_HOME), "home");
	check_status(PyConfig_SetString(&config, &config.program_name, L"wasgi-python"), "program name");

	config.module_search_paths_set = 1;
	const char *pp = getenv("WASGI_PYTHON_PATH");
	if (pp != NULL && *pp != '\0') {
		char *copy = strdup(pp);
		for (char *save = NULL, *p = strtok_r(copy, ":", &save); p != NULL; p = strtok_r(NULL, ":", &save)) {
			append_path(&config, p);
		}
		free(copy);
	}
	check_status(PyWideStringList_Append(&config.module_search_paths, PYTHON_LIB), "sys.path");
	const char *sp = getenv("WASGI_PYTHON_SITE");
	if (sp != NULL && *sp != '\0') {
		append_path(&config, sp);
	}

	/* sys.argv: the WASI args (argv[0] is the app's name). wasi-libc hands
	 * them to main only, and a reactor has none. */
	size_t argc = 0, argv_size = 0;
	if (__wasi_args_sizes_get(&argc, &argv_size) == 0 && argc > 0) {
		char **argv = calloc(argc + 1, sizeof *argv);
		char *argv_buf = malloc(argv_size);
		if (argv == NULL || argv_buf == NULL || __wasi_args_get((uint8_t **)argv, (uint8_t *)argv_buf) != 0) {
			die("reading the arguments");
		}
		check_status(PyConfig_SetBytesArgv(&config, (Py_ssize_t)argc, argv), "sys.argv");
		free(argv);
		free(argv_buf);
	}

	check_status(Py_InitializeFromConfig(&config), "starting the interpreter");
	PyConfig_Clear(&config);

	PyObject *bridge = PyImport_ImportModule("_wasgi_bridge");
	if (bridge == NULL) {
		die("importing _wasgi_bridge");
	}
	PyObject *r = PyObject_CallMethod(bridge, "start", NULL);
	if (r == NULL) {
		die("loading the application");
	}
	Py_DECREF(r);
	handle_fn = PyObject_GetAttrString(bridge, "handle");
	check_fn = PyObject_GetAttrString(bridge, "check_password");
	groups_fn = PyObject_GetAttrString(bridge, "groups_for_user");
	restored_fn = PyObject_GetAttrString(bridge, "restored");
	run_fn = PyObject_GetAttrString(bridge, "run");
	if (!handle_fn || !check_fn || !groups_fn || !restored_fn || !run_fn) {
		die("bridge entry points");
	}
	Py_DECREF(bridge);
	wasgi_sqlite_started();
}

/* call runs a bridge entry point returning an int. The bridge handles the
 * application's exceptions itself; one escaping it is a bug in the runtime,
 * so it traps and the host discards the instance. */
static int32_t call(PyObject *fn) {
	PyObject *r = PyObject_CallNoArgs(fn);
	if (r == NULL) {
		die("bridge failed");
	}
	long v = PyLong_AsLong(r);
	Py_DECREF(r);
	if (v == -1 && PyErr_Occurred()) {
		die("bridge returned a non-integer");
	}
	return (int32_t)v;
}

WASGI_EXPORT("wasgi_handle") int32_t wasgi_handle(void) {
	return call(handle_fn);
}

WASGI_EXPORT("wasgi_check_password") int32_t wasgi_check_password(void) {
	return call(check_fn);
}

WASGI_EXPORT("wasgi_groups_for_user") int32_t wasgi_groups_for_user(void) {
	return call(groups_fn);
}

/* A one-shot run (wasgi manage): the WASI args run as `python ARGS...`
 * would run them; the result is the exit status. */
WASGI_EXPORT("wasgi_run") int32_t wasgi_run(void) {
	return call(run_fn);
}

/* Called by the host on an instance started from a snapshot, before its
 * first request: state that must differ between instances is renewed. */
WASGI_EXPORT("wasgi_snapshot_restored") int32_t wasgi_snapshot_restored(void) {
	wasgi_sqlite_restored(); /* first: the files of connections made at import */
	return call(restored_fn);
}
