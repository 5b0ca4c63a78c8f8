"""Writes that matter go to a temporary path beside their target and are renamed into place,
so a crash leaves the old version or the new one, never half of either.

``atomic_file`` is one rename, atomic on POSIX. ``atomic_directory`` needs two (the old folder
aside, the new one in), because a folder cannot be renamed over a non-empty one: a kill
between them leaves no ``target`` but the complete old copy in ``.NAME.old.PID`` beside it,
and the next ``atomic_directory`` (or ``recover_directory``) on that target moves it back.
Temp and aside folders carry their writer's process id, so leftovers of a dead writer are
told from a writer still at work. The index (embeddings/store.py) switches versions with one
rename of its manifest instead, so it never depends on this recovery.

``pause_point`` is the tests' hook for killing a writer at a chosen step.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

PAUSE_ENV = "QA_TEST_PAUSE_AT"


def pause_point(name: str) -> None:
    """When ``$QA_TEST_PAUSE_AT`` is ``name``: say so on stderr and wait here for ever, so a test
    can kill the process at exactly this step of a write. Otherwise nothing."""
    if os.environ.get(PAUSE_ENV) != name:
        return
    sys.stderr.write(f"{PAUSE_ENV}={name}: paused\n")
    sys.stderr.flush()
    while True:
        time.sleep(60)


def fsync_directory(path: str | os.PathLike) -> None:
    """Make a rename or new entry in ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(root: str | os.PathLike) -> None:
    """fsync every file under ``root``, then every folder (deepest first), before a rename
    publishes them: otherwise a power cut could leave the renamed folder with empty files."""
    root = Path(root)
    folders = [root]
    for path in sorted(root.rglob("*")):
        if path.is_dir():
            folders.append(path)
        elif path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    for folder in reversed(folders):
        fsync_directory(folder)


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (ours counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _leftovers(target: Path) -> list[tuple[str, Path]]:
    """``atomic_directory``'s temp (``tmp``) and aside (``old``) folders of ``target`` whose
    writer is gone: its process id is dead or unreadable (folders of older versions of this
    module carry none)."""
    found = []
    if not target.parent.is_dir():
        return found
    for path in target.parent.iterdir():
        for kind in ("tmp", "old"):
            prefix = f".{target.name}.{kind}."
            if not path.name.startswith(prefix):
                continue
            pid_text = path.name[len(prefix):].split(".", 1)[0]
            if pid_text.isdigit() and process_alive(int(pid_text)):
                continue  # its writer is still at work
            found.append((kind, path))
    return found


def recover_directory(target: str | os.PathLike) -> list[str]:
    """Undo what a writer killed inside ``atomic_directory`` left behind: when ``target`` is
    missing, the old copy moved aside comes back (the newest, if several); stale temp and
    aside folders are removed. Returns what it did, one line each (also logged)."""
    target = Path(target)
    done: list[str] = []
    leftovers = _leftovers(target)
    asides = sorted((p for kind, p in leftovers if kind == "old"), key=lambda p: p.stat().st_mtime_ns)
    if asides and not target.exists():
        os.replace(asides[-1], target)
        fsync_directory(target.parent)
        done.append(f"restored {target} from {asides[-1].name}")
        leftovers = [(k, p) for k, p in leftovers if p != asides[-1]]
    for _, path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
        done.append(f"removed {path}")
    for line in done:
        log.warning("%s (left by an interrupted write)", line)
    return done


@contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temp folder beside ``target``; on success it replaces ``target``.

    The old folder is moved aside first and deleted only after the new one is in place. On
    any exception the temp folder is removed and ``target`` is left as it was. Leftovers of a
    writer killed earlier are recovered first (see ``recover_directory``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_directory(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp.{os.getpid()}.", dir=target.parent))
    old = None
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp makes it 0700; the folder should look like any other
        fsync_tree(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old.{os.getpid()}")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            pause_point("atomic-directory-moved-aside")
        os.replace(tmp, target)
        fsync_directory(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not target.exists():
            os.replace(old, target)
        raise


@contextmanager
def atomic_file(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp file path beside ``target``; on success it is flushed to disk and renamed
    over ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_directory(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
