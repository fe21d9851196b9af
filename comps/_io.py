"""Atomic file writes: a temp file in the same folder, fsync, then ``os.replace``.

A reader (or a crash, SIGINT or kill -9 halfway) sees either the old file or the new one,
never a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def _synced_temp(path: Path, data: bytes) -> Path:
    """``data`` written and synced to a temporary file beside ``path`` (removed on failure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _new_file_mode() -> int:
    """The permission bits a new file gets here: 0666 less the umask (mkstemp's are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, keeping the file's permission bits (a new
    file gets the usual ones, 0666 less the umask)."""
    path = Path(path)
    tmp = _synced_temp(path, data)
    try:
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else _new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """``text`` written as UTF-8, byte for byte (no newline translation)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_text_new(path: Path, text: str) -> None:
    """Create ``path`` atomically with ``text``; FileExistsError if it exists, even when another
    process creates it at the same moment (the temp file is hard-linked into place)."""
    tmp = _synced_temp(Path(path), text.encode("utf-8"))
    os.chmod(tmp, _new_file_mode())
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0


def replace_dir(files: dict[str, bytes], out_dir: Path, keep: tuple[str, ...] = ()) -> list[Path]:
    """Make ``out_dir`` hold exactly ``files`` (names may hold subfolders, 'tables/x.csv'), as
    one set: they are written and synced into a temporary folder beside it, which then takes its
    place in one atomic exchange, so a reader sees the previous set or the new one, never a mix.
    Subfolders named in ``keep`` (another command's set, e.g. the backtest's) are moved over
    from the previous set unchanged. Where the exchange is unsupported the old folder is moved
    aside first (a moment with no folder, but never a mixed one)."""
    import shutil

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        for name, data in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            with open(tmp / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for sub in keep:
            if (out_dir / sub).is_dir() and not (tmp / sub).exists():
                os.replace(out_dir / sub, tmp / sub)
        for folder in (tmp, *(p for p in tmp.rglob("*") if p.is_dir())):
            os.chmod(folder, 0o755)
        if out_dir.exists() and _exchange(tmp, out_dir):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous set
        else:
            if out_dir.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
                os.replace(out_dir, old / "set")
                os.replace(tmp, out_dir)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out_dir / name for name in files]


def remove_stale_temporaries(out_dir: Path) -> None:
    """Temporary folders left beside ``out_dir`` by a build that was killed."""
    import shutil

    out_dir = Path(out_dir)
    for p in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        shutil.rmtree(p, ignore_errors=True)
    for p in out_dir.parent.glob(f".{out_dir.name}.old-*"):
        shutil.rmtree(p, ignore_errors=True)


def lock(path: Path, what: str, timeout_s: float = 300.0):
    """An inter-process lock (filelock, on flock: released when its holder dies) that waits
    for another build to finish; a CompsError if it does not within ``timeout_s``."""
    from filelock import FileLock, Timeout

    from comps.errors import CompsError

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fl = FileLock(str(path), timeout=timeout_s)

    class _Held:
        def __enter__(self):
            try:
                fl.acquire()
            except Timeout:
                raise CompsError(f"another comps build is using {what} and did not finish within "
                                 f"{timeout_s:g} s (lock {path})") from None
            return self

        def __exit__(self, *exc):
            fl.release()

    return _Held()
