"""Exceptions raised by lazypath.

Every error from the core carries a one-line message that names the thing
(path, digest, store URL) and the cause, never a credential.
"""


class LazypathError(Exception):
    """Base class of every lazypath error."""


class NotFoundError(LazypathError, LookupError):
    """A directory, ref, digest or object does not exist."""


class InvalidInputError(LazypathError, ValueError):
    """Bad input from the caller: a URL, ref name, pattern or option."""


class CorruptError(LazypathError):
    """Bytes from a store or the node cache failed a check (digest, format)."""


class StorageError(LazypathError, OSError):
    """An operating-system call failed (permissions, full disk, ...)."""


class UnsupportedError(LazypathError):
    """A file kind or feature lazypath refuses (sockets, escaping symlinks)."""


class UnavailableError(LazypathError):
    """A transient failure; trying again may succeed."""


class ConflictError(LazypathError):
    """A ref moved while this call ran (another push or tag won the race)."""


__all__ = [
    "LazypathError",
    "NotFoundError",
    "InvalidInputError",
    "CorruptError",
    "StorageError",
    "UnsupportedError",
    "UnavailableError",
    "ConflictError",
]
