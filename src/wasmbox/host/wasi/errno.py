"""WASI preview1 errno values (the ``errno`` enum of wasi_snapshot_preview1)
and the mapping from a host :class:`OSError`.

Raises nothing.
"""
from __future__ import annotations

import errno as _os

SUCCESS = 0
E2BIG = 1
EACCES = 2
EADDRINUSE = 3
EADDRNOTAVAIL = 4
EAFNOSUPPORT = 5
EAGAIN = 6
EALREADY = 7
EBADF = 8
EBADMSG = 9
EBUSY = 10
ECANCELED = 11
ECHILD = 12
ECONNABORTED = 13
ECONNREFUSED = 14
ECONNRESET = 15
EDEADLK = 16
EDESTADDRREQ = 17
EDOM = 18
EDQUOT = 19
EEXIST = 20
EFAULT = 21
EFBIG = 22
EHOSTUNREACH = 23
EIDRM = 24
EILSEQ = 25
EINPROGRESS = 26
EINTR = 27
EINVAL = 28
EIO = 29
EISCONN = 30
EISDIR = 31
ELOOP = 32
EMFILE = 33
EMLINK = 34
EMSGSIZE = 35
EMULTIHOP = 36
ENAMETOOLONG = 37
ENETDOWN = 38
ENETRESET = 39
ENETUNREACH = 40
ENFILE = 41
ENOBUFS = 42
ENODEV = 43
ENOENT = 44
ENOEXEC = 45
ENOLCK = 46
ENOLINK = 47
ENOMEM = 48
ENOMSG = 49
ENOPROTOOPT = 50
ENOSPC = 51
ENOSYS = 52
ENOTCONN = 53
ENOTDIR = 54
ENOTEMPTY = 55
ENOTRECOVERABLE = 56
ENOTSOCK = 57
ENOTSUP = 58
ENOTTY = 59
ENXIO = 60
EOVERFLOW = 61
EOWNERDEAD = 62
EPERM = 63
EPIPE = 64
EPROTO = 65
EPROTONOSUPPORT = 66
EPROTOTYPE = 67
ERANGE = 68
EROFS = 69
ESPIPE = 70
ESRCH = 71
ESTALE = 72
ETIMEDOUT = 73
ETXTBSY = 74
EXDEV = 75
ENOTCAPABLE = 76

#: WASI name (without the E) -> value, built from the constants above
_BY_NAME = {k: v for k, v in dict(globals()).items() if k.startswith("E") and k.isupper()}

#: host errno -> WASI errno, for every host errno whose name WASI shares
_FROM_HOST: dict[int, int] = {}
for _name, _value in _BY_NAME.items():
    _host = getattr(_os, _name, None)
    if isinstance(_host, int):
        _FROM_HOST.setdefault(_host, _value)
if hasattr(_os, "EWOULDBLOCK"):
    _FROM_HOST.setdefault(_os.EWOULDBLOCK, EAGAIN)
if hasattr(_os, "EOPNOTSUPP"):
    _FROM_HOST.setdefault(_os.EOPNOTSUPP, ENOTSUP)


def from_oserror(e: OSError) -> int:
    """The WASI errno for a host OSError (EIO when the host's errno has no WASI name)."""
    return _FROM_HOST.get(e.errno, EIO) if e.errno is not None else EIO
