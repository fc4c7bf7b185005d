"""The result cache's seal: an HMAC-SHA256 under a per-user key kept outside the cache folder.

Whoever can write to `.northstar/cache/` (a shared folder, a restored CI cache) could plant a
file there; without a seal it would be served as a result. Every entry therefore carries an
HMAC-SHA256 of its bytes and its name, under a key only this user can read:
`$XDG_CACHE_HOME/northstar/result-cache.key` (`~/.cache/northstar/` when the variable is unset),
created once with mode 0600. An entry that fails the check (forged, truncated, renamed from
another entry, or written under another user's key) is not read past its header.

The key file is trusted only when it is a regular file owned by this user and readable by no
one else: a key others can read could sign forged entries, so the disk cache is then off (with
a warning saying how to fix it) rather than served from.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import secrets
import stat
import tempfile
import threading
from pathlib import Path

log = logging.getLogger("northstar.engine.cache")

MAGIC = b"NSRESULT1\n"  # the format's name and version, so a stray file is told apart at once
_MAC = hashlib.sha256().digest_size
HEADER = len(MAGIC) + _MAC
_DOMAIN = b"northstar result cache v1\x00"
_KEY_BYTES = 32

_keys: dict[Path | None, bytes | None] = {}
_lock = threading.Lock()


def key_path() -> Path | None:
    """Where this user's key lives (the XDG base-directory rule: a relative value is ignored);
    None when there is no home folder to put it in (never a path relative to where we run)."""
    return _key_path(os.environ.get("XDG_CACHE_HOME", ""), os.environ.get("HOME"))


@functools.lru_cache(maxsize=16)
def _key_path(base: str, _home: str | None) -> Path | None:  # every cache read asks: a lookup
    if base and os.path.isabs(base):
        folder = Path(base)
    else:
        home = os.path.expanduser("~") if os.environ.get("HOME", "unset") else ""
        if not os.path.isabs(home) or home == os.path.sep:  # an empty HOME, or none to be found
            return None
        folder = Path(home) / ".cache"
    return folder / "northstar" / "result-cache.key"


def user_key() -> bytes | None:
    """This user's key, created on first use; None (the disk cache off) when it cannot be had safely."""
    path = key_path()
    with _lock:
        if path not in _keys:
            _keys[path] = _load_or_create(path) if path is not None else _no_home()
        return _keys[path]


def _no_home() -> None:
    log.warning("result cache off: no home folder for its key; set XDG_CACHE_HOME to a folder of your own, "
                "or NORTHSTAR_CACHE=0")


def seal(key: bytes, name: str, payload: bytes) -> bytes:
    """The bytes to store: the header, then the payload."""
    return MAGIC + _mac(key, name, payload) + payload


def unseal(key: bytes, name: str, sealed: bytes) -> bytes | None:
    """The payload when the seal holds for this name and key, else None."""
    if len(sealed) < HEADER or not sealed.startswith(MAGIC):
        return None
    payload = memoryview(sealed)[HEADER:]
    if not hmac.compare_digest(sealed[len(MAGIC):HEADER], _mac(key, name, payload)):
        return None
    return bytes(payload)


def _mac(key: bytes, name: str, payload: bytes | memoryview) -> bytes:
    # The entry's name is signed too: a valid entry copied over another name is not served.
    mac = hmac.new(key, _DOMAIN + name.encode() + b"\x00", hashlib.sha256)
    mac.update(payload)
    return mac.digest()


def _load_or_create(path: Path) -> bytes | None:
    try:
        return _read_key(path)
    except (FileNotFoundError, NotADirectoryError):
        pass  # none yet: made below
    except ValueError as exc:
        log.warning("result cache off: the key file %s %s; delete it and a new one is made", path, exc)
        return None
    except OSError as exc:
        log.warning("result cache off: cannot read the key file %s (%s); set XDG_CACHE_HOME to a folder "
                    "of your own, or NORTHSTAR_CACHE=0", path, exc.strerror or exc)
        return None
    try:
        return _create_key(path)
    except OSError as exc:
        log.warning("result cache off: cannot create the key file %s (%s); set XDG_CACHE_HOME to a "
                    "writable folder, or NORTHSTAR_CACHE=0", path, exc.strerror or exc)
        return None


def _read_key(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("is not a regular file")
        if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
            raise ValueError(f"belongs to another user (uid {info.st_uid})")
        if os.name == "posix" and info.st_mode & 0o077:
            raise ValueError(f"can be read or written by others (mode {stat.S_IMODE(info.st_mode):o}, must be 600)")
        text = os.read(fd, 4 * _KEY_BYTES).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != _KEY_BYTES:
        raise ValueError(f"does not hold a {_KEY_BYTES}-byte key in hex")
    return key


def _create_key(path: Path) -> bytes:
    """Write a new key beside the path and link it into place: two processes starting at once
    both end up with whichever key was linked first, and no one ever reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".result-cache.key.", dir=path.parent)  # mode 0600
    try:
        os.write(fd, secrets.token_hex(_KEY_BYTES).encode() + b"\n")
        os.fsync(fd)
        os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: create it exclusively instead
            _create_exclusive(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    try:
        return _read_key(path)
    except ValueError as exc:
        raise OSError(str(exc)) from None


def _create_exclusive(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return
    try:
        os.write(fd, secrets.token_hex(_KEY_BYTES).encode() + b"\n")
    finally:
        os.close(fd)
