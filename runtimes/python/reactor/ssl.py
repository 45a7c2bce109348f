"""TLS for the Python runtime: done by the wasgi host, not in the guest.

This module replaces CPython's ssl in wasgi's Python runtime (build.sh
installs it as the standard library's ssl.py): the runtime has no OpenSSL,
and it needs none. An app's `outbound` list names each destination as
tcp://host:port or tls://host:port; for a tls:// entry the host does the
TLS handshake itself (TLS 1.2 or later, SNI, the certificate verified for
the entry's host name against the system's roots or the entry's `ca`
file) and the guest reads and writes plaintext (ABI.md section 4.8).
So a socket connected through a tls:// entry is already a TLS
connection, and SSLContext.wrap_socket() returns it as an SSLSocket
without doing anything on the wire. That is what http.client and
urllib.request (https://), smtplib.SMTP_SSL, redis-py (rediss://) and
other clients that open TLS from the first byte need.

Rules:

- wrap_socket(sock, server_hostname=...) succeeds only on a connection
  opened through a tls:// entry; on any other it raises SSLError saying
  that TLS needs a tls:// entry in the app's outbound list. STARTTLS
  (smtplib's starttls(), PyMySQL's and PostgreSQL's TLS, which switch a
  plain connection to TLS midway) is therefore not supported: use the
  server's TLS port with a tls:// entry, or a plain tcp:// one.
- The host always verifies, whatever the context says: CERT_NONE and
  check_hostname = False do not turn verification off, and
  load_verify_locations, load_default_certs and set_default_verify_paths
  are accepted and change nothing (give the host the CA with the entry's
  `ca` file). With check_hostname, a server_hostname other than the host
  the socket connected to (which the host verified) raises
  SSLCertVerificationError.
- set_ciphers, set_alpn_protocols, set_ecdh_curve, minimum_version,
  options, post_handshake_auth... are accepted and ignored (the host
  negotiates; selected_alpn_protocol() is None). load_cert_chain (client
  certificates) raises SSLError: the host cannot present them.
- getpeercert() describes the name the host verified:
  {"subject": ((("commonName", host),),), "subjectAltName": (("DNS",
  host),)}; getpeercert(True) is None (the guest never sees the
  certificate). version() is "TLSv1.2", the least the host accepts.
- No server side (server_side=True), no SSLObject/MemoryBIO TLS
  (wrap_bio raises: asyncio's TLS does not work), no unwrap().
"""

import base64 as _base64
import enum as _enum
import errno as _errno
import os as _os
import time as _time
from collections import namedtuple as _namedtuple

import _wasgi
import _wasgi_socket

_wasgi_socket.install()

OPENSSL_VERSION = "wasgi host TLS (no OpenSSL in the guest)"
OPENSSL_VERSION_INFO = (3, 0, 0, 0, 0)
OPENSSL_VERSION_NUMBER = 0x30000000
_OPENSSL_API_VERSION = OPENSSL_VERSION_INFO

HAS_SNI = True
HAS_ALPN = True
HAS_NPN = False
HAS_ECDH = True
HAS_NEVER_CHECK_COMMON_NAME = True
HAS_SSLv2 = HAS_SSLv3 = HAS_TLSv1 = HAS_TLSv1_1 = False
HAS_TLSv1_2 = HAS_TLSv1_3 = True
CHANNEL_BINDING_TYPES = []

PEM_HEADER = "-----BEGIN CERTIFICATE-----"
PEM_FOOTER = "-----END CERTIFICATE-----"


class _SSLMethod(_enum.IntEnum):
    PROTOCOL_SSLv23 = 2
    PROTOCOL_TLS = 2
    PROTOCOL_TLSv1 = 3
    PROTOCOL_TLSv1_1 = 4
    PROTOCOL_TLSv1_2 = 5
    PROTOCOL_TLS_CLIENT = 16
    PROTOCOL_TLS_SERVER = 17


class Options(_enum.IntFlag):
    OP_LEGACY_SERVER_CONNECT = 0x4
    OP_IGNORE_UNEXPECTED_EOF = 0x80
    OP_NO_TICKET = 0x4000
    OP_NO_COMPRESSION = 0x20000
    OP_ENABLE_MIDDLEBOX_COMPAT = 0x100000
    OP_CIPHER_SERVER_PREFERENCE = 0x400000
    OP_NO_SSLv2 = 0x1000000
    OP_NO_SSLv3 = 0x2000000
    OP_NO_TLSv1 = 0x4000000
    OP_NO_TLSv1_2 = 0x8000000
    OP_NO_TLSv1_1 = 0x10000000
    OP_NO_TLSv1_3 = 0x20000000
    OP_NO_RENEGOTIATION = 0x40000000
    OP_ALL = 0x80000850
    OP_SINGLE_DH_USE = 0x100000000
    OP_SINGLE_ECDH_USE = 0x200000000


class AlertDescription(_enum.IntEnum):
    ALERT_DESCRIPTION_CLOSE_NOTIFY = 0
    ALERT_DESCRIPTION_HANDSHAKE_FAILURE = 40
    ALERT_DESCRIPTION_BAD_CERTIFICATE = 42
    ALERT_DESCRIPTION_CERTIFICATE_EXPIRED = 45
    ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN = 46
    ALERT_DESCRIPTION_UNKNOWN_CA = 48
    ALERT_DESCRIPTION_ACCESS_DENIED = 49
    ALERT_DESCRIPTION_INTERNAL_ERROR = 80


class SSLErrorNumber(_enum.IntEnum):
    SSL_ERROR_SSL = 1
    SSL_ERROR_WANT_READ = 2
    SSL_ERROR_WANT_WRITE = 3
    SSL_ERROR_WANT_X509_LOOKUP = 4
    SSL_ERROR_SYSCALL = 5
    SSL_ERROR_ZERO_RETURN = 6
    SSL_ERROR_WANT_CONNECT = 7
    SSL_ERROR_EOF = 8
    SSL_ERROR_INVALID_ERROR_CODE = 10


class VerifyFlags(_enum.IntFlag):
    VERIFY_DEFAULT = 0
    VERIFY_CRL_CHECK_LEAF = 0x4
    VERIFY_CRL_CHECK_CHAIN = 0xC
    VERIFY_X509_STRICT = 0x20
    VERIFY_ALLOW_PROXY_CERTS = 0x40
    VERIFY_X509_TRUSTED_FIRST = 0x8000
    VERIFY_X509_PARTIAL_CHAIN = 0x80000


class VerifyMode(_enum.IntEnum):
    CERT_NONE = 0
    CERT_OPTIONAL = 1
    CERT_REQUIRED = 2


class TLSVersion(_enum.IntEnum):
    MINIMUM_SUPPORTED = -2
    MAXIMUM_SUPPORTED = -1
    SSLv3 = 0x300
    TLSv1 = 0x301
    TLSv1_1 = 0x302
    TLSv1_2 = 0x303
    TLSv1_3 = 0x304


# Their members are module constants too, as in CPython (PROTOCOL_TLS_CLIENT,
# OP_NO_TLSv1, CERT_REQUIRED...).
for _cls in (_SSLMethod, Options, AlertDescription, SSLErrorNumber, VerifyFlags, VerifyMode):
    globals().update(_cls.__members__)
OP_NO_SSL = OP_NO_SSLv2 | OP_NO_SSLv3
OP_NO_TLS = OP_NO_TLSv1 | OP_NO_TLSv1_1 | OP_NO_TLSv1_2 | OP_NO_TLSv1_3
_PROTOCOL_NAMES = {m.value: m.name.replace("PROTOCOL_", "") for m in _SSLMethod}


def get_protocol_name(protocol_code):
    return _PROTOCOL_NAMES.get(protocol_code, "<unknown>")


class _ASN1Object(_namedtuple("_ASN1Object", "nid shortname longname oid")):
    """ASN.1 object identifier lookup (the two this module knows)."""

    __slots__ = ()
    _KNOWN = {
        "1.3.6.1.5.5.7.3.1": (129, "serverAuth", "TLS Web Server Authentication", "1.3.6.1.5.5.7.3.1"),
        "1.3.6.1.5.5.7.3.2": (130, "clientAuth", "TLS Web Client Authentication", "1.3.6.1.5.5.7.3.2"),
    }

    def __new__(cls, oid):
        for v in cls._KNOWN.values():
            if oid in (v[1], v[2], v[3]):
                return super().__new__(cls, *v)
        raise ValueError("unknown object '%s'" % oid)

    @classmethod
    def fromnid(cls, nid):
        for v in cls._KNOWN.values():
            if v[0] == nid:
                return super().__new__(cls, *v)
        raise ValueError("unknown NID %i" % nid)

    @classmethod
    def fromname(cls, name):
        return cls(name)


class Purpose(_ASN1Object, _enum.Enum):
    """SSLContext purpose flags with X509v3 Extended Key Usage objects."""

    SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
    CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"


# -- errors, as CPython's


class SSLError(OSError):
    """An SSL error; library and reason as CPython's give them."""

    library = None
    reason = None

    def __str__(self):
        if len(self.args) == 1:
            return str(self.args[0])
        return super().__str__()


class SSLZeroReturnError(SSLError):
    """SSL/TLS session closed cleanly."""


class SSLWantReadError(SSLError):
    """Non-blocking SSL socket needs to read more data."""


class SSLWantWriteError(SSLError):
    """Non-blocking SSL socket needs to write more data."""


class SSLSyscallError(SSLError):
    """System error when attempting SSL operation."""


class SSLEOFError(SSLError):
    """SSL/TLS connection terminated abruptly."""


class SSLCertVerificationError(SSLError, ValueError):
    """A certificate could not be verified."""

    verify_code = 0
    verify_message = None


CertificateError = SSLCertVerificationError


def _same_host(a, b):
    return a.lower().rstrip(".") == b.lower().rstrip(".")


def _needs_tls_entry(host, port):
    dest = ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)
    e = SSLError(
        "wasgi: TLS to %s needs a tls:// entry in the app's outbound list "
        "(tls://%s): the host does TLS, not the guest, and this connection was "
        "opened through a tcp:// entry; STARTTLS on a plain connection is not "
        "supported" % (dest, dest))
    e.library, e.reason = "WASGI", "NEEDS_TLS_ENTRY"
    return e


# -- the context


DefaultVerifyPaths = _namedtuple(
    "DefaultVerifyPaths",
    "cafile capath openssl_cafile_env openssl_cafile openssl_capath_env openssl_capath")


def get_default_verify_paths():
    """No files: the host verifies with its own roots."""
    return DefaultVerifyPaths(None, None, "SSL_CERT_FILE", "", "SSL_CERT_DIR", "")


class SSLContext:
    """Settings for TLS connections; the host does the TLS, so most of
    them are accepted and change nothing (see the module's doc)."""

    sslsocket_class = None  # SSLSocket, set below
    sslobject_class = None  # SSLObject, set below

    def __init__(self, protocol=None, *args, **kwargs):
        if protocol is None:
            protocol = PROTOCOL_TLS
        self._protocol = _SSLMethod(protocol)
        client = self._protocol == _SSLMethod.PROTOCOL_TLS_CLIENT
        self._check_hostname = client
        self._verify_mode = VerifyMode.CERT_REQUIRED if client else VerifyMode.CERT_NONE
        self.options = Options.OP_ALL | Options.OP_NO_SSLv2 | Options.OP_NO_SSLv3 | Options.OP_NO_COMPRESSION
        self.verify_flags = VerifyFlags.VERIFY_X509_TRUSTED_FIRST
        self.minimum_version = TLSVersion.MINIMUM_SUPPORTED
        self.maximum_version = TLSVersion.MAXIMUM_SUPPORTED
        self.post_handshake_auth = False
        self.hostname_checks_common_name = False
        self.keylog_filename = None
        self.sni_callback = None
        self.num_tickets = 2
        self.security_level = 2

    @property
    def protocol(self):
        return self._protocol

    @property
    def check_hostname(self):
        return self._check_hostname

    @check_hostname.setter
    def check_hostname(self, value):
        value = bool(value)
        if value and self._verify_mode == VerifyMode.CERT_NONE:
            self._verify_mode = VerifyMode.CERT_REQUIRED
        self._check_hostname = value

    @property
    def verify_mode(self):
        return self._verify_mode

    @verify_mode.setter
    def verify_mode(self, value):
        value = VerifyMode(value)
        if value == VerifyMode.CERT_NONE and self._check_hostname:
            raise ValueError("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.")
        self._verify_mode = value

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        """Accepted: the host verifies, with the entry's `ca` file."""
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile, capath and cadata cannot be all omitted")

    def load_default_certs(self, purpose=Purpose.SERVER_AUTH):
        if not isinstance(purpose, _ASN1Object):
            raise TypeError(purpose)

    def set_default_verify_paths(self):
        pass

    def load_cert_chain(self, certfile, keyfile=None, password=None):
        e = SSLError("wasgi: client certificates are not supported: the host does TLS and presents none")
        e.library, e.reason = "WASGI", "NO_CLIENT_CERTIFICATES"
        raise e

    def load_dh_params(self, path):
        pass

    def set_ciphers(self, ciphers):
        pass

    def get_ciphers(self):
        return []

    def set_alpn_protocols(self, alpn_protocols):
        for p in alpn_protocols:
            if not 0 < len(p.encode("ascii") if isinstance(p, str) else p) <= 255:
                raise SSLError("ALPN protocols must be 1 to 255 in length")

    def set_npn_protocols(self, npn_protocols):
        pass

    def set_ecdh_curve(self, name):
        pass

    def set_servername_callback(self, server_name_callback):
        self.sni_callback = server_name_callback

    def cert_store_stats(self):
        return {"x509": 0, "crl": 0, "x509_ca": 0}

    def get_ca_certs(self, binary_form=False):
        return []

    def session_stats(self):
        return {}

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True,
                    suppress_ragged_eofs=True, server_hostname=None, session=None):
        return self.sslsocket_class._create(
            sock=sock, server_side=server_side, do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs, server_hostname=server_hostname,
            context=self, session=session)

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):
        e = SSLError("wasgi: TLS over memory BIOs (SSLObject, asyncio) is not supported: the host does TLS on tls:// outbound connections")
        e.library, e.reason = "WASGI", "NO_BIO"
        raise e


# -- sockets


class SSLSocket(_wasgi_socket.socket):
    """A connection through a tls:// outbound entry: the host did the TLS,
    reads and writes are the plaintext. Made by SSLContext.wrap_socket."""

    def __init__(self, *args, **kwargs):
        raise TypeError(
            f"{self.__class__.__name__} does not have a public constructor. "
            f"Instances are returned by SSLContext.wrap_socket().")

    @classmethod
    def _create(cls, sock, server_side=False, do_handshake_on_connect=True,
                suppress_ragged_eofs=True, server_hostname=None, context=None, session=None):
        if not isinstance(sock, _wasgi_socket.socket):
            raise TypeError("wasgi: wrap_socket needs a socket made by socket.socket or socket.create_connection, not %s"
                            % type(sock).__name__)
        if server_side:
            raise ValueError("wasgi: server-side TLS is not supported (no server sockets)")
        if context.check_hostname and not server_hostname:
            raise ValueError("check_hostname requires server_hostname")
        if server_hostname is not None:
            if isinstance(server_hostname, bytes):
                server_hostname = server_hostname.decode("ascii")
            if not server_hostname or server_hostname.startswith("."):
                raise ValueError("server_hostname cannot be an empty string or start with a leading dot.")
        if sock._handle is not None:
            _check(sock, context, server_hostname)
        timeout = sock.gettimeout()
        self = cls.__new__(cls)
        _wasgi_socket.socket.__init__(self, fileno=sock.detach())
        self.settimeout(timeout)
        self._context = context
        self.server_hostname = server_hostname
        self.server_side = False
        self.do_handshake_on_connect = do_handshake_on_connect
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self._session = session
        return self

    @property
    def context(self):
        return self._context

    @context.setter
    def context(self, ctx):
        self._context = ctx

    @property
    def session(self):
        return self._session

    @session.setter
    def session(self, session):
        self._session = session

    @property
    def session_reused(self):
        return False

    def connect(self, address):
        super().connect(address)
        try:
            _check(self, self._context, self.server_hostname)
        except BaseException:
            self.close()
            raise

    def connect_ex(self, address):
        try:
            self.connect(address)
        except OSError as e:
            return e.errno or _errno.EIO
        return 0

    def do_handshake(self, block=False):
        self._conn()  # the host did it at connect

    def read(self, len=1024, buffer=None):
        if buffer is not None:
            return self.recv_into(buffer, len)
        return self.recv(len)

    def write(self, data):
        return self.send(data)

    def pending(self):
        return len(self._pending)

    def getpeercert(self, binary_form=False):
        host = self.getpeername()[0]
        if binary_form:
            return None
        kind = "IP Address" if _wasgi_socket._ip_family(host) else "DNS"
        return {"subject": ((("commonName", host),),), "subjectAltName": ((kind, host),)}

    def selected_alpn_protocol(self):
        return None

    def selected_npn_protocol(self):
        return None

    def cipher(self):
        self._conn()
        return ("TLS_BY_WASGI_HOST", "TLSv1.2", 128)

    def shared_ciphers(self):
        return None

    def compression(self):
        return None

    def version(self):
        self._conn()
        return "TLSv1.2"

    def get_channel_binding(self, cb_type="tls-unique"):
        raise ValueError("{0} channel binding type not implemented".format(cb_type))

    def verify_client_post_handshake(self):
        raise SSLError("wasgi: post-handshake authentication is not supported")

    def unwrap(self):
        raise SSLError("wasgi: unwrap() is not supported: the host ends TLS when the connection closes")

    def dup(self):
        raise NotImplementedError("Can't dup() %s instances" % self.__class__.__name__)


def _check(sock, context, server_hostname):
    """Raises unless sock's connection came through a tls:// entry for the
    host name the context wants verified."""
    host, port = sock.getpeername()[:2]
    if not sock._flags & _wasgi.NET_TLS:
        raise _needs_tls_entry(host, port)
    if context.check_hostname and server_hostname and not _same_host(server_hostname, host):
        e = SSLCertVerificationError(
            "wasgi: the host verified the certificate for %r, the host this socket "
            "connected to, not for server_hostname %r" % (host, server_hostname))
        e.library, e.reason = "SSL", "CERTIFICATE_VERIFY_FAILED"
        e.verify_message = "Hostname mismatch"
        raise e


class SSLObject:
    """Not supported: TLS over memory BIOs (see SSLContext.wrap_bio)."""

    def __init__(self, *args, **kwargs):
        raise TypeError(
            f"{self.__class__.__name__} does not have a public constructor. "
            f"Instances are returned by SSLContext.wrap_bio().")


class SSLSession:
    """TLS sessions are the host's: none is ever given to the guest."""


class MemoryBIO:
    """A byte buffer, as CPython's (only SSLObject, unsupported, uses it)."""

    def __init__(self):
        self._buf = bytearray()
        self.eof = False

    @property
    def pending(self):
        return len(self._buf)

    def read(self, size=-1):
        if size < 0:
            size = len(self._buf)
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def write(self, b):
        if self.eof:
            raise SSLError("cannot write() after write_eof()")
        self._buf += b
        return len(b)

    def write_eof(self):
        self.eof = True


SSLContext.sslsocket_class = SSLSocket
SSLContext.sslobject_class = SSLObject


# -- module functions, as CPython's


def create_default_context(purpose=Purpose.SERVER_AUTH, *, cafile=None, capath=None, cadata=None):
    if not isinstance(purpose, _ASN1Object):
        raise TypeError(purpose)
    if purpose == Purpose.SERVER_AUTH:
        context = SSLContext(PROTOCOL_TLS_CLIENT)
        context.verify_mode = CERT_REQUIRED
        context.check_hostname = True
    elif purpose == Purpose.CLIENT_AUTH:
        context = SSLContext(PROTOCOL_TLS_SERVER)
    else:
        raise ValueError(purpose)
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    return context


def _create_unverified_context(protocol=None, *, cert_reqs=CERT_NONE,
                               check_hostname=False, purpose=Purpose.SERVER_AUTH,
                               certfile=None, keyfile=None, cafile=None, capath=None, cadata=None):
    if not isinstance(purpose, _ASN1Object):
        raise TypeError(purpose)
    if protocol is None:
        protocol = PROTOCOL_TLS_CLIENT if purpose == Purpose.SERVER_AUTH else PROTOCOL_TLS_SERVER
    context = SSLContext(protocol)
    context.check_hostname = check_hostname
    if cert_reqs is not None:
        context.verify_mode = cert_reqs
    if keyfile and not certfile:
        raise ValueError("certfile must be specified")
    if certfile or keyfile:
        context.load_cert_chain(certfile, keyfile)
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    return context


_create_default_https_context = create_default_context
_create_stdlib_context = _create_unverified_context


def wrap_socket(sock, keyfile=None, certfile=None, server_side=False, cert_reqs=CERT_NONE,
                ssl_version=PROTOCOL_TLS, ca_certs=None, do_handshake_on_connect=True,
                suppress_ragged_eofs=True, ciphers=None):
    """The deprecated module-level wrap_socket."""
    if server_side and not certfile:
        raise ValueError("certfile must be specified for server-side operations")
    if keyfile and not certfile:
        raise ValueError("certfile must be specified")
    context = SSLContext(ssl_version)
    context.verify_mode = cert_reqs
    if ca_certs:
        context.load_verify_locations(ca_certs)
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    return context.wrap_socket(sock, server_side=server_side, do_handshake_on_connect=do_handshake_on_connect,
                               suppress_ragged_eofs=suppress_ragged_eofs)


def _dnsname_match(dn, hostname):
    if not dn:
        return False
    if "*" not in dn:
        return _same_host(dn, hostname)
    left, _, rest = dn.partition(".")
    if left != "*" or "*" in rest or not rest:
        return False
    hleft, _, hrest = hostname.partition(".")
    return bool(hleft) and _same_host(rest, hrest)


def _inet_paton(ipname):
    packed = _wasgi_socket._packed_ip(ipname)
    if packed is None:
        raise ValueError("%r is not an IPv4 or IPv6 address" % (ipname,))
    return packed


def match_hostname(cert, hostname):
    """Raises CertificateError unless cert (as getpeercert() gives it)
    names hostname. Deprecated in CPython; kept for older clients."""
    if not cert:
        raise ValueError("empty or no certificate, match_hostname needs a SSL socket or SSL context "
                         "with either CERT_OPTIONAL or CERT_REQUIRED")
    try:
        ip = _inet_paton(hostname)
    except ValueError:
        ip = None
    names = []
    for key, value in cert.get("subjectAltName", ()):
        if key == "DNS" and ip is None and _dnsname_match(value, hostname):
            return
        if key == "IP Address" and ip is not None:
            try:
                if _inet_paton(value.rstrip()) == ip:
                    return
            except ValueError:
                pass
        names.append(value)
    if not names:
        for sub in cert.get("subject", ()):
            for key, value in sub:
                if key == "commonName":
                    if _dnsname_match(value, hostname):
                        return
                    names.append(value)
    if names:
        raise CertificateError("hostname %r doesn't match %s" % (hostname, ", ".join(map(repr, names))))
    raise CertificateError("no appropriate commonName or subjectAltName fields were found")


def cert_time_to_seconds(cert_time):
    """A certificate's "notBefore"/"notAfter" time as seconds since the epoch."""
    import calendar

    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    fmt = " %d %H:%M:%S %Y GMT"
    try:
        month = months.index(cert_time[:3].title()) + 1
    except ValueError:
        raise ValueError('time data %r does not match format "%%b%s"' % (cert_time, fmt))
    tt = _time.strptime(cert_time[3:], fmt)
    return calendar.timegm((tt[0], month) + tt[2:6])


def DER_cert_to_PEM_cert(der_cert_bytes):
    f = str(_base64.standard_b64encode(der_cert_bytes), "ASCII", "strict")
    ss = [PEM_HEADER]
    ss += [f[i:i + 64] for i in range(0, len(f), 64)]
    ss.append(PEM_FOOTER + "\n")
    return "\n".join(ss)


def PEM_cert_to_DER_cert(pem_cert_string):
    if not pem_cert_string.startswith(PEM_HEADER):
        raise ValueError("Invalid PEM encoding; must start with %s" % PEM_HEADER)
    if not pem_cert_string.strip().endswith(PEM_FOOTER):
        raise ValueError("Invalid PEM encoding; must end with %s" % PEM_FOOTER)
    d = pem_cert_string.strip()[len(PEM_HEADER):-len(PEM_FOOTER)]
    return _base64.decodebytes(d.encode("ASCII", "strict"))


def get_server_certificate(addr, ssl_version=None, ca_certs=None, timeout=None):
    raise SSLError("wasgi: get_server_certificate is not supported: the guest never sees certificates")


def RAND_bytes(n):
    return _os.urandom(n)


def RAND_pseudo_bytes(n):
    return _os.urandom(n), True


def RAND_status():
    return True


def RAND_add(string, entropy):
    pass
