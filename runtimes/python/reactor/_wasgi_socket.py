"""Outbound TCP sockets for the Python runtime, through the wasgi host.

WASI preview 1 cannot open a socket: the runtime's _socket module has the
constants but its socket() fails. wasgi's host imports net_connect,
net_read, net_write, net_shutdown and net_close (ABI.md section 4.8) can,
to the destinations the app's `outbound` list names. This module gives
them the stdlib's socket API; install(), called by _wasgi_bridge.start()
before the application is imported, puts it into the stdlib `socket`
module, so that unmodified pure-Python clients (http.client and
urllib.request, smtplib, PyMySQL, redis-py...) reach their servers.

What works:

- socket.socket(AF_INET or AF_INET6, SOCK_STREAM): connect((host, port))
  and connect_ex, send, sendall, sendfile, recv (flags MSG_PEEK,
  MSG_DONTWAIT, MSG_WAITALL), recv_into, recvfrom, makefile (the stdlib's
  SocketIO and io buffers), shutdown, close, detach, the context manager,
  settimeout/gettimeout/setblocking/getblocking, getpeername,
  getsockname (always ("0.0.0.0", 0)), family/type/proto/timeout.
- Names are resolved by the host, at connect, which checks every address
  against the outbound list: connect passes "host:port" (or "[v6]:port")
  to net_connect as given. So getaddrinfo answers without DNS, with the
  name itself as the address: [(AF_INET, SOCK_STREAM, 6, '', (host,
  port))] (AF_INET6 for an IPv6 literal). gethostbyname returns the name
  itself too (a client that resolves first and connects to the result then
  connects to the name, which the outbound entry names), except
  "localhost", which is "127.0.0.1". gethostname() is "localhost" and
  gethostbyaddr raises socket.herror, so getfqdn() is "localhost".
- create_connection(address, timeout, source_address): source_address
  is ignored.
- Timeouts: None waits as long as the running request's deadline allows
  (timeout_ms -1), 0 is non-blocking (BlockingIOError instead of
  waiting), t > 0 bounds each recv and send (socket.timeout, which is
  TimeoutError); sendall's timeout bounds the whole call, as in CPython.
  The connect timeout is the host's (outbound_connect_timeout): a
  socket's own timeout does not shorten it.
- setsockopt is accepted and remembered (TCP_NODELAY, SO_KEEPALIVE... mean
  nothing here: the host owns the real socket); getsockopt returns what
  was set, SO_TYPE and SO_ERROR their natural values, else 0.
- fileno() is a number of 2**20 or more, unique per socket (-1 once
  closed), never a real WASI file descriptor: os.close(sock.fileno())
  cannot close a file. socket.socket(fileno=n) takes back a socket that
  detach() returned n for (the ssl module uses it).
- Errors are the ones a real socket raises: PermissionError (EACCES) for
  a destination the outbound list does not allow, ConnectionRefusedError
  when it cannot be reached, TimeoutError, ConnectionResetError,
  OSError(EMFILE) when the app holds its limit of connections.
- A socket connected at import time, before the host snapshots the
  instance, is connected in that instance only: in the instances started
  from the snapshot it fails as reset (restored()), and its handle, which
  such an instance may give to a connection of its own, is never used.

What does not: server sockets (bind is accepted and ignored for clients
that bind before connecting; listen and accept raise), UDP and raw
sockets, AF_UNIX, socketpair, select()/poll()/selectors on these sockets
(they are not file descriptors; asyncio's sockets therefore do not work),
and DNS lookups for their own sake (getaddrinfo does none).
"""

import errno as _errno
import io
import itertools
import math
import time
import weakref

import socket as _std
import _wasgi

AF_INET = _std.AF_INET
AF_INET6 = _std.AF_INET6
SOCK_STREAM = _std.SOCK_STREAM
IPPROTO_TCP = _std.IPPROTO_TCP
SHUT_RD, SHUT_WR, SHUT_RDWR = _std.SHUT_RD, _std.SHUT_WR, _std.SHUT_RDWR

# Constants the WASI _socket lacks that clients pass to setsockopt or
# recv: Linux's values (they are only compared, never sent anywhere).
_MISSING = {
    "SO_REUSEADDR": 2, "SO_ERROR": 4, "SO_BROADCAST": 6, "SO_SNDBUF": 7,
    "SO_RCVBUF": 8, "SO_KEEPALIVE": 9, "SO_OOBINLINE": 10, "SO_LINGER": 13,
    "SO_REUSEPORT": 15, "SO_RCVLOWAT": 18, "SO_SNDLOWAT": 19,
    "SO_RCVTIMEO": 20, "SO_SNDTIMEO": 21,
    "MSG_OOB": 0x1, "MSG_DONTWAIT": 0x40, "MSG_NOSIGNAL": 0x4000,
}
for _name, _value in _MISSING.items():
    if not hasattr(_std, _name):
        setattr(_std, _name, _value)
MSG_PEEK = _std.MSG_PEEK
MSG_WAITALL = _std.MSG_WAITALL
MSG_DONTWAIT = _std.MSG_DONTWAIT

_FD_BASE = 1 << 20  # fake file numbers start here, far above WASI's
_fds = itertools.count(_FD_BASE)
_detached = {}  # fake file number -> state of a socket detach() gave up
_live = weakref.WeakSet()  # sockets holding a handle, for restored()
_MAX_MS = 0x7FFFFFFF


def _packed_ip(host):
    """The packed address of an IPv4 or IPv6 literal, None for a name.
    (The WASI _socket's inet_pton knows no IPv6.)"""
    if ":" in host:
        import ipaddress

        try:
            return ipaddress.IPv6Address(host.partition("%")[0]).packed
        except ValueError:
            return None
    try:
        return _std.inet_pton(AF_INET, host)
    except (OSError, ValueError):
        return None


def _ip_family(host):
    """AF_INET or AF_INET6 for an address literal, None for a name."""
    packed = _packed_ip(host)
    if packed is None:
        return None
    return AF_INET if len(packed) == 4 else AF_INET6


def _host(host):
    """The host part of an address as net_connect wants it: a str, IDNA
    for a non-ASCII name, without the brackets of an IPv6 literal."""
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii")
    if not isinstance(host, str):
        raise TypeError("str, bytes or bytearray expected, not %s" % type(host).__name__)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return host


def _port(port):
    if not isinstance(port, int):
        raise TypeError("'%s' object cannot be interpreted as an integer" % type(port).__name__)
    if not 0 <= port <= 65535:
        raise OverflowError("connect(): port must be 0-65535.")
    return port


class socket:
    """A TCP client socket whose connection the wasgi host holds."""

    __module__ = "socket"  # it is socket.socket once installed
    _stale = False  # connected in the instance a snapshot was taken of

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is not None:
            state = _detached.pop(fileno, None)
            if state is None:
                raise OSError(_errno.EBADF, "Bad file descriptor: %r is not a socket detach() returned (wasgi)" % (fileno,))
            self.__dict__.update(state)
            self._fd = fileno
            if self._handle is not None:
                _live.add(self)
            return
        if family == -1:
            family = AF_INET
        if type == -1:
            type = SOCK_STREAM
        if family not in (AF_INET, AF_INET6):
            raise OSError(_errno.EAFNOSUPPORT, "Address family not supported: wasgi's sockets are outbound TCP (AF_INET, AF_INET6) only")
        kind = type & ~(getattr(_std, "SOCK_NONBLOCK", 0) | getattr(_std, "SOCK_CLOEXEC", 0))
        if kind != SOCK_STREAM:
            raise OSError(_errno.EPROTONOSUPPORT, "Protocol not supported: wasgi's sockets are outbound TCP (SOCK_STREAM) only; no UDP or raw sockets")
        self._family = family
        self._type = kind
        self._proto = IPPROTO_TCP if proto in (-1, 0) else proto
        self._timeout = _std.getdefaulttimeout()
        if type & getattr(_std, "SOCK_NONBLOCK", 0):
            self._timeout = 0.0
        self._handle = None  # the host's handle, once connected
        self._flags = 0  # what net_connect wrote at info (NET_TLS)
        self._peer = None
        self._pending = b""  # read by a MSG_PEEK, not yet consumed
        self._rd_shut = False
        self._wr_shut = False
        self._opts = {}
        self._io_refs = 0
        self._closed = False
        self._fd = next(_fds)

    # -- state

    def __repr__(self):
        s = "<%s.%s fd=%d, family=%d, type=%d, proto=%d" % (
            self.__class__.__module__, self.__class__.__qualname__, self._fd,
            self._family, self._type, self._proto)
        if self._peer is not None and self._fd != -1:
            s += ", raddr=%r" % (self._peer,)
        return s + ">"

    def __enter__(self):
        return self

    def __exit__(self, *args):
        if not self._closed:
            self.close()

    def __getstate__(self):
        raise TypeError("cannot pickle %r object" % self.__class__.__name__)

    def __del__(self):
        try:
            if self._fd != -1:
                self._real_close()
        except Exception:
            pass

    @property
    def family(self):
        return _std._intenum_converter(self._family, _std.AddressFamily)

    @property
    def type(self):
        return _std._intenum_converter(self._type, _std.SocketKind)

    @property
    def proto(self):
        return self._proto

    @property
    def timeout(self):
        return self._timeout

    def fileno(self):
        return self._fd

    def _conn(self):
        """The handle of the connection, or the error a real socket gives."""
        if self._fd == -1:
            raise OSError(_errno.EBADF, "Bad file descriptor")
        if self._stale:
            raise ConnectionResetError(_errno.ECONNRESET, _STALE)
        if self._handle is None:
            raise OSError(_errno.ENOTCONN, "Transport endpoint is not connected")
        return self._handle

    def _ms(self, deadline=None, dontwait=False):
        """timeout_ms for the host: -1 no limit but the deadline, 0 poll."""
        t = self._timeout
        if dontwait:
            return 0
        if t is None:
            return -1
        if deadline is not None:
            t = max(0.0, deadline - time.monotonic())
        if t <= 0:
            return 0
        return min(max(1, math.ceil(t * 1000)), _MAX_MS)

    def _timed_out(self, dontwait=False):
        if dontwait or self._timeout == 0:
            return BlockingIOError(_errno.EAGAIN, "Resource temporarily unavailable")
        return _std.timeout("timed out")

    # -- connecting

    def connect(self, address):
        if self._fd == -1:
            raise OSError(_errno.EBADF, "Bad file descriptor")
        if self._handle is not None or self._stale:
            raise OSError(_errno.EISCONN, "Transport endpoint is already connected")
        if not isinstance(address, tuple) or not 2 <= len(address) <= 4:
            raise TypeError("%s address must be a tuple (host, port)" % ("AF_INET6" if self._family == AF_INET6 else "AF_INET"))
        host, port = _host(address[0]), _port(address[1])
        if not host:
            raise OSError(_errno.EINVAL, "connect(): empty host name")
        dest = ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)
        self._handle, self._flags = _wasgi.net_connect(dest)
        self._peer = (host, port) if self._family == AF_INET else (host, port, 0, 0)
        _live.add(self)

    def connect_ex(self, address):
        try:
            self.connect(address)
        except TimeoutError as e:
            return e.errno or _errno.ETIMEDOUT
        except OSError as e:
            return e.errno or _errno.EIO
        return 0

    def bind(self, address):
        """Accepted and ignored: the host picks the local address."""
        if self._fd == -1:
            raise OSError(_errno.EBADF, "Bad file descriptor")

    def listen(self, backlog=None):
        raise OSError(_errno.EOPNOTSUPP, "Operation not supported: wasgi's sockets are outbound only, no server sockets")

    def accept(self):
        raise OSError(_errno.EOPNOTSUPP, "Operation not supported: wasgi's sockets are outbound only, no server sockets")

    def getpeername(self):
        self._conn()
        return self._peer

    def getsockname(self):
        if self._fd == -1:
            raise OSError(_errno.EBADF, "Bad file descriptor")
        return ("::", 0, 0, 0) if self._family == AF_INET6 else ("0.0.0.0", 0)

    # -- options and timeouts

    def settimeout(self, value):
        if value is not None:
            value = float(value)
            if value < 0 or math.isnan(value):
                raise ValueError("Timeout value out of range")
        self._timeout = value

    def gettimeout(self):
        return self._timeout

    def setblocking(self, flag):
        self._timeout = None if flag else 0.0

    def getblocking(self):
        return self._timeout != 0.0

    def setsockopt(self, level, optname, value, optlen=None):
        if self._fd == -1:
            raise OSError(_errno.EBADF, "Bad file descriptor")
        self._opts[(level, optname)] = value

    def getsockopt(self, level, optname, buflen=None):
        if self._fd == -1:
            raise OSError(_errno.EBADF, "Bad file descriptor")
        if (level, optname) in self._opts:
            value = self._opts[(level, optname)]
        elif level == _std.SOL_SOCKET and optname == _std.SO_TYPE:
            value = self._type
        else:
            value = 0
        if buflen is None:
            return value
        if isinstance(value, int):
            value = value.to_bytes(4, "little", signed=True)
        return bytes(value)[:buflen]

    # -- reading

    def recv(self, bufsize, flags=0):
        h = self._conn()
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        if flags & ~(MSG_PEEK | MSG_DONTWAIT | MSG_WAITALL):
            raise OSError(_errno.EOPNOTSUPP, "recv(): flags other than MSG_PEEK, MSG_DONTWAIT and MSG_WAITALL are not supported")
        dontwait = bool(flags & MSG_DONTWAIT)
        if flags & MSG_WAITALL and not flags & (MSG_DONTWAIT | MSG_PEEK):
            chunks, n = [], 0
            while n < bufsize:
                data = self.recv(bufsize - n)
                if not data:
                    break
                chunks.append(data)
                n += len(data)
            return b"".join(chunks)
        if self._pending:
            data = self._pending[:bufsize]
            if not flags & MSG_PEEK:
                self._pending = self._pending[len(data):]
            return data
        if self._rd_shut or bufsize == 0:
            return b""
        try:
            data = _wasgi.net_read(h, bufsize, self._ms(dontwait=dontwait))
        except TimeoutError:
            raise self._timed_out(dontwait) from None
        if flags & MSG_PEEK:
            self._pending = data
        return data

    def recv_into(self, buffer, nbytes=0, flags=0):
        h = self._conn()
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        view = memoryview(buffer).cast("B")
        if nbytes == 0:
            nbytes = len(view)
        elif nbytes > len(view):
            raise ValueError("buffer too small for requested bytes")
        if flags or self._pending:
            data = self.recv(nbytes, flags)
            view[: len(data)] = data
            return len(data)
        if self._rd_shut or nbytes == 0:
            return 0
        try:
            return _wasgi.net_readinto(h, view[:nbytes], self._ms())
        except TimeoutError:
            raise self._timed_out() from None

    def recvfrom(self, bufsize, flags=0):
        return self.recv(bufsize, flags), None

    def recvfrom_into(self, buffer, nbytes=0, flags=0):
        return self.recv_into(buffer, nbytes, flags), None

    # -- writing

    def send(self, data, flags=0):
        h = self._conn()
        if self._wr_shut:
            raise BrokenPipeError(_errno.EPIPE, "Broken pipe")
        dontwait = bool(flags & MSG_DONTWAIT)
        try:
            return _wasgi.net_write(h, data, self._ms(dontwait=dontwait))
        except TimeoutError:
            raise self._timed_out(dontwait) from None

    def sendall(self, data, flags=0):
        h = self._conn()
        if self._wr_shut:
            raise BrokenPipeError(_errno.EPIPE, "Broken pipe")
        view = memoryview(data).cast("B")
        dontwait = bool(flags & MSG_DONTWAIT)
        deadline = None
        if self._timeout:
            deadline = time.monotonic() + self._timeout
        sent = 0
        while sent < len(view):
            try:
                sent += _wasgi.net_write(h, view[sent:], self._ms(deadline, dontwait))
            except TimeoutError:
                raise self._timed_out(dontwait) from None

    def sendto(self, data, flags_or_addr, addr=None):
        raise OSError(_errno.EISCONN, "sendto(): wasgi's sockets are connected TCP only: use send")

    def sendfile(self, file, offset=0, count=None):
        """Sends a file's bytes with sendall; returns how many were sent."""
        if "b" not in getattr(file, "mode", "b"):
            raise ValueError("file should be opened in binary mode")
        if count is not None and count <= 0:
            raise ValueError("count must be a positive integer (got {!r})".format(count))
        if offset:
            file.seek(offset)
        total = 0
        while count is None or total < count:
            want = 65536 if count is None else min(65536, count - total)
            data = file.read(want)
            if not data:
                break
            self.sendall(data)
            total += len(data)
        if total > 0 and hasattr(file, "seek"):
            file.seek(offset + total)
        return total

    # -- ending

    def shutdown(self, how):
        h = self._conn()
        if how not in (SHUT_RD, SHUT_WR, SHUT_RDWR):
            raise OSError(_errno.EINVAL, "Invalid argument")
        if how in (SHUT_WR, SHUT_RDWR) and not self._wr_shut:
            self._wr_shut = True
            _wasgi.net_shutdown(h)
        if how in (SHUT_RD, SHUT_RDWR):
            self._rd_shut = True

    def _real_close(self):
        h, self._handle, self._fd = self._handle, None, -1
        if h is not None:
            try:
                _wasgi.net_close(h)
            except OSError:
                pass

    def close(self):
        # As CPython's: the connection stays open while a makefile() of
        # this socket does (http.client reads its response through one).
        self._closed = True
        if self._io_refs <= 0:
            self._real_close()

    def _decref_socketios(self):
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed:
            self.close()

    def detach(self):
        """Gives the connection up without closing it and returns the
        number with which socket(fileno=...) takes it back."""
        fd = self._fd
        if fd == -1:
            return -1
        state = dict(self.__dict__)
        del state["_fd"]
        state.update(_io_refs=0, _closed=False)
        _detached[fd] = state
        self._handle, self._fd, self._closed = None, -1, True
        return fd

    def dup(self):
        raise OSError(_errno.EOPNOTSUPP, "dup(): wasgi's sockets cannot be duplicated")

    makefile = _std.socket.makefile

    def set_inheritable(self, inheritable):
        pass

    def get_inheritable(self):
        return False


_STALE = ("Connection reset: opened before the snapshot this instance started from (at import "
          "time), so not open in this instance (wasgi); open connections on the first request")


def restored():
    """Called in an instance started from a snapshot, before its first
    request: the connections the snapshot's sockets name were the source
    instance's, not this one's. Their sockets now fail as reset
    connections (clients reconnect), and their handles, which this
    instance may give to new connections, are never used."""
    for s in list(_live):
        if s._handle is not None:
            s._handle, s._stale = None, True
    for state in _detached.values():
        if state.get("_handle") is not None:
            state.update(_handle=None, _stale=True)
    _live.clear()


def create_connection(address, timeout=_std._GLOBAL_DEFAULT_TIMEOUT, source_address=None, *, all_errors=False):
    """Connects to (host, port) as socket.create_connection does; the host
    resolves the name. source_address is ignored."""
    host, port = address
    host = _host(host)
    sock = socket(AF_INET6 if _ip_family(host) == AF_INET6 else AF_INET, SOCK_STREAM)
    try:
        if timeout is not _std._GLOBAL_DEFAULT_TIMEOUT:
            sock.settimeout(timeout)
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


_SERVICES = {
    "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80,
    "pop3": 110, "nntp": 119, "imap": 143, "imap2": 143, "ldap": 389,
    "https": 443, "submissions": 465, "smtps": 465, "submission": 587,
    "ldaps": 636, "imaps": 993, "pop3s": 995, "mysql": 3306,
    "postgresql": 5432, "postgres": 5432, "redis": 6379, "memcache": 11211,
    "mongodb": 27017, "amqp": 5672,
}


def getservbyname(servicename, protocolname=None):
    try:
        return _SERVICES[servicename.lower()]
    except KeyError:
        raise OSError("service/proto not found") from None


def getservbyport(port, protocolname=None):
    for name, p in _SERVICES.items():
        if p == port:
            return name
    raise OSError("port/proto not found")


def getprotobyname(protocolname):
    try:
        return {"ip": 0, "icmp": 1, "tcp": 6, "udp": 17, "ipv6": 41}[protocolname.lower()]
    except KeyError:
        raise OSError("protocol not found") from None


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """Answers without DNS: the name itself is the address, for the host
    to resolve (and check) at connect."""
    if host is None:
        host = "0.0.0.0" if flags & _std.AI_PASSIVE else "127.0.0.1"
        if family == AF_INET6:
            host = "::" if flags & _std.AI_PASSIVE else "::1"
    host = _host(host)
    if port is None:
        port = 0
    elif isinstance(port, (bytes, bytearray)):
        port = bytes(port).decode("ascii")
    if isinstance(port, str):
        if port.isdigit():
            port = int(port)
        else:
            try:
                port = getservbyname(port)
            except OSError:
                raise _std.gaierror(_std.EAI_SERVICE, "Servname not supported for ai_socktype") from None
    elif not isinstance(port, int):
        raise TypeError("getaddrinfo() argument 2 must be integer or string")
    if family not in (0, AF_INET, AF_INET6):
        raise _std.gaierror(_std.EAI_FAMILY, "ai_family not supported")
    literal = _ip_family(host)
    if literal is None and flags & _std.AI_NUMERICHOST:
        raise _std.gaierror(_std.EAI_NONAME, "Name or service not known")
    if literal is not None and family and family != literal:
        raise _std.gaierror(_std.EAI_ADDRFAMILY, "Address family for hostname not supported")
    af = literal or family or AF_INET
    kind = type or SOCK_STREAM
    if not proto:
        proto = IPPROTO_TCP if kind == SOCK_STREAM else _std.IPPROTO_UDP if kind == _std.SOCK_DGRAM else 0
    sa = (host, port) if af == AF_INET else (host, port, 0, 0)
    canon = host if flags & _std.AI_CANONNAME else ""
    return [(_std._intenum_converter(af, _std.AddressFamily), _std._intenum_converter(kind, _std.SocketKind), proto, canon, sa)]


def gethostbyname(hostname):
    """The name itself (the host resolves it at connect); "localhost" is
    127.0.0.1."""
    hostname = _host(hostname)
    if hostname == "":
        return "0.0.0.0"
    if hostname.lower().rstrip(".") == "localhost":
        return "127.0.0.1"
    return hostname


def gethostbyname_ex(hostname):
    return hostname, [], [gethostbyname(hostname)]


def gethostname():
    return "localhost"


def gethostbyaddr(ip_address):
    raise _std.herror(1, "Unknown host (wasgi resolves no names for the guest)")


def getnameinfo(sockaddr, flags):
    host, port = sockaddr[0], sockaddr[1]
    return _host(host), str(port)


def socketpair(family=None, type=SOCK_STREAM, proto=0):
    raise OSError(_errno.EOPNOTSUPP, "socketpair(): not supported in wasgi (outbound connections only)")


def fromfd(fd, family, type, proto=0):
    raise OSError(_errno.EOPNOTSUPP, "fromfd(): not supported in wasgi (outbound connections only)")


def create_server(address, *, family=AF_INET, backlog=None, reuse_port=False, dualstack_ipv6=False):
    raise OSError(_errno.EOPNOTSUPP, "create_server(): wasgi's sockets are outbound only, no server sockets")


def has_dualstack_ipv6():
    return False


_PATCH = (
    "socket", "create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex",
    "gethostname", "gethostbyaddr", "getnameinfo", "getservbyname", "getservbyport",
    "getprotobyname", "socketpair", "fromfd", "create_server", "has_dualstack_ipv6",
)
_installed = False


def install():
    """Puts this module's socket and functions into the stdlib socket
    module. Idempotent; _wasgi_bridge.start() calls it before anything
    imports the application."""
    global _installed
    if _installed:
        return
    _installed = True
    g = globals()
    for name in _PATCH:
        setattr(_std, name, g[name])
    _std.SocketType = socket
    _std.has_ipv6 = True  # the host connects to IPv6 destinations
