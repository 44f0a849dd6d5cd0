"""One writer per output: a lock file beside every output a command writes.

``output_lock(path)`` holds ``.NAME.lock`` beside ``path`` (a file or a folder) for as long as
the command writes it. The lock is an advisory ``flock`` on that file, which the kernel drops when
its process ends however it ends, and the file names its holder (pid, host, command, start time).
A second writer of the same output gets a one-line :class:`OutputLocked` naming the holder. A lock
file left by a run that was killed holds no ``flock``: the next run takes it over (its pid is gone).
Where ``flock`` is not available (Windows, some network file systems) the file alone is the lock:
it is taken over when the pid it names is no longer running on this host.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from garmentcli.errors import InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class OutputLocked(InputError):
    """Another garmentkp run is writing this output."""


def lock_path(output: str | Path) -> Path:
    """The lock file of an output: ``.NAME.lock`` in the same folder."""
    output = Path(output)
    return output.with_name(f".{output.name}.lock")


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return False
    return True


def _holder(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, 65536)
        holder = orjson.loads(data) if data.strip() else {}
    except (OSError, orjson.JSONDecodeError):
        return {}
    return holder if isinstance(holder, dict) else {}


def describe(holder: dict[str, Any]) -> str:
    """``pid 1234 on host, garmentkp detect, since 2025-01-02 10:11:12``: who holds a lock."""
    parts = [f"pid {holder.get('pid', '?')}" + (f" on {holder['host']}" if holder.get("host") else "")]
    if holder.get("command"):
        parts.append(str(holder["command"]))
    if holder.get("started"):
        parts.append(f"since {holder['started']}")
    return ", ".join(parts)


def _refuse(output: Path, holder: dict[str, Any]) -> OutputLocked:
    return OutputLocked(
        f"{output}: another garmentkp run is writing it ({describe(holder)}); "
        "wait for it to finish, stop it, or choose another output"
    )


def _alive_elsewhere(holder: dict[str, Any]) -> bool:
    """Whether the holder a lock file names may still run (pid alive here, or on another host)."""
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    if holder.get("host") not in (None, socket.gethostname()):
        return True
    return _pid_running(pid)


def _open_locked(output: Path, lock: Path) -> int:
    """Open and lock ``lock``; raises :class:`OutputLocked` when another live run holds it."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is None:
                raise OSError(errno.ENOLCK, "no flock")
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise _refuse(output, holder) from None
        except OSError:  # no flock here: the pid in the file decides
            holder = _holder(fd)
            if _alive_elsewhere(holder):
                os.close(fd)
                raise _refuse(output, holder) from None
        try:  # a finishing holder may have removed the file between our open and our lock
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextlib.contextmanager
def output_lock(output: str | Path, command: str = "garmentkp") -> Iterator[dict[str, Any]]:
    """Hold the lock of ``output`` while the body writes it; yields what a stale lock said (``{}`` if none)."""
    output = Path(output)
    lock = lock_path(output)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = _open_locked(output, lock)
    previous = _holder(fd)
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "output": str(output),
    }
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, orjson.dumps(me) + b"\n")
        yield previous
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)
