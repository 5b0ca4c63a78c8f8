"""The index folder on disk: complete versions, and one manifest that names the current one.

```
INDEX_DIR/
  manifest.json          what the index was built from (embeddings.store.IndexManifest), plus
                         "version" (the current version folder), "files" (each file of it
                         with its size and sha256) and "previous" (the version it replaced)
  v-20260105T101500-3fa2c1/   one complete version: vectors.faiss, tombstones.json,
                         chunks.jsonl, documents.jsonl, bm25/bm25.json, bm25/rows.jsonl
  .writer.lock           embeddings.locking's lock: one writer at a time
  .v-tmp.PID.XXXX/       a version being written (a dead PID's is removed on start)
```

A save writes a new version folder completely under a temp name, renames it to its version
name, then replaces ``manifest.json`` (write a temp file, fsync, rename: one atomic step).
A kill at any instant leaves the old manifest naming the old complete version, or the new one
naming the new: never no index. Versions other than the current one and the one it replaced
are removed after the switch; the replaced one stays a while (``GRACE_SECONDS``), because a
reader in another process may still be loading it, and goes on a later save or start
(``clean_index_dir``). A reader never takes a lock: it reads the manifest, then the files it
names.

An index saved before versions existed (format 2, "flat": the files next to manifest.json,
no "version") still loads; the next save writes a version and removes the flat files.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator, Mapping

from embeddings.atomic import atomic_file, fsync_directory, fsync_tree, pause_point, recover_directory
from embeddings.errors import QAError
from embeddings.locking import LOCK_FILE, writer_lock

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
VERSION_PREFIX = "v-"
TEMP_PREFIX = ".v-tmp."
# The files of the flat layout (before versions), removed once a version is current.
FLAT_ENTRIES = ("vectors.faiss", "tombstones.json", "chunks.jsonl", "documents.jsonl", "bm25")
# How long the version a save replaced is kept for readers still loading it.
GRACE_SECONDS = 60.0
_VERSION_NAME = re.compile(r"v-[0-9A-Za-z-]{1,64}")
_STORAGE_KEYS = ("version", "files", "previous")


def damaged(directory: str | os.PathLike, what: str) -> QAError:
    """The one message for any damage: what is wrong, and that ``qa index`` repairs it."""
    what = " ".join(str(what).split())  # one line, whatever the cause said
    return QAError(f"the index in {directory} is damaged ({what}); rebuild it with: qa index")


@dataclass(frozen=True, slots=True)
class Pointer:
    """What ``manifest.json`` says: the manifest's own fields (``fields``), the version folder
    it names (``folder``; the index folder itself for the flat layout) and that version's
    files, each relative path → ``{"bytes": n, "sha256": hex}`` (None for the flat layout)."""

    fields: dict
    folder: Path
    version: str            # the version's name, or "flat-<hash of the manifest>"
    files: Mapping[str, Mapping[str, object]] | None
    previous: str | None


def read_pointer(directory: str | os.PathLike) -> Pointer:
    """Parse ``manifest.json``: a QAError saying "no index" when it is missing, "damaged" when it
    is not one (undecodable bytes, bad JSON, a version or file list that cannot be right)."""
    directory = Path(directory)
    path = directory / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise QAError(f"no index in {directory} (missing {MANIFEST}); build one with: qa index") from None
    except OSError as error:
        raise damaged(directory, f"{MANIFEST} cannot be read: {error.strerror or error}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise damaged(directory, f"{MANIFEST} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise damaged(directory, f"{MANIFEST}:{error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise damaged(directory, f"{MANIFEST} is not a JSON object")
    version, files, previous = (data.pop(key, None) for key in _STORAGE_KEYS)
    if version is None:
        return Pointer(fields=data, folder=directory, version=f"flat-{hashlib.sha256(raw).hexdigest()[:12]}",
                       files=None, previous=None)
    if not (isinstance(version, str) and _VERSION_NAME.fullmatch(version)):
        raise damaged(directory, f"{MANIFEST} names no valid version ({version!r})")
    if not _valid_files(files):
        raise damaged(directory, f"{MANIFEST} has no valid list of files")
    if not (previous is None or isinstance(previous, str) and _VERSION_NAME.fullmatch(previous)):
        previous = None
    return Pointer(fields=data, folder=directory / version, version=version, files=files, previous=previous)


def _valid_files(files: object) -> bool:
    if not isinstance(files, dict) or not files:
        return False
    for name, record in files.items():
        parts = PurePosixPath(name).parts
        if (not parts or PurePosixPath(name).is_absolute() or ".." in parts or not isinstance(record, dict)
                or not isinstance(record.get("bytes"), int) or not isinstance(record.get("sha256"), str)):
            return False
    return True


def current_version(directory: str | os.PathLike) -> str | None:
    """The name of the version ``manifest.json`` names now (cheap: reads that one small file),
    or None when there is no readable index. Compare it with ``ChunkIndex.version`` to see
    whether another process saved a new index since this one was loaded."""
    try:
        return read_pointer(directory).version
    except QAError:
        return None


def check_files(directory: Path, pointer: Pointer, *, hashes: bool = True) -> None:
    """Each file the manifest lists is there with its size (and, with ``hashes``, its sha256);
    else a "damaged" QAError naming the first that is not."""
    if pointer.files is None:
        return
    if not pointer.folder.is_dir():
        raise damaged(directory, f"its current version {pointer.version}/ is missing")
    for name, record in sorted(pointer.files.items()):
        path = pointer.folder / name
        shown = f"{pointer.version}/{name}"
        try:
            size = path.stat().st_size
        except OSError:
            raise damaged(directory, f"{shown} is missing") from None
        if size != record["bytes"]:
            raise damaged(directory, f"{shown} has {size} bytes, the manifest says {record['bytes']}")
        try:
            matches = not hashes or file_sha256(path) == record["sha256"]
        except OSError:   # removed between stat and open: a writer switched versions meanwhile
            raise damaged(directory, f"{shown} is missing") from None
        if not matches:
            raise damaged(directory, f"{shown} does not match its checksum")


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def file_records(folder: Path) -> dict[str, dict[str, object]]:
    """Every file under ``folder``: relative path → size and sha256."""
    return {path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
            for path in sorted(folder.rglob("*")) if path.is_file()}


def new_version_name() -> str:
    return f"{VERSION_PREFIX}{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def publish_version(directory: str | os.PathLike, write: Callable[[Path], None],
                    fields: Mapping[str, object]) -> str:
    """Save a new version: ``write(folder)`` fills a temp folder, which becomes a version folder
    and then the current one (``manifest.json`` = ``fields`` + version + files). Returns the
    version's name. Holds the folder's writer lock; the pause points are the tests' kill hooks."""
    directory = Path(directory)
    with writer_lock(directory):
        try:
            previous = read_pointer(directory).version
        except QAError:
            previous = None   # no index yet, or a damaged one being replaced
        if previous is not None and not previous.startswith(VERSION_PREFIX):
            previous = None   # the flat layout: its files are removed below
        tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}.", dir=directory))
        try:
            write(tmp)
            files = file_records(tmp)
            tmp.chmod(0o755)  # mkdtemp makes it 0700; a version folder should look like any other
            fsync_tree(tmp)
            pause_point("temp-written")
            version = new_version_name()
            os.replace(tmp, directory / version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_directory(directory)
        pause_point("after-version-written")
        pointer = {**fields, "version": version, "files": files, "previous": previous}
        with atomic_file(directory / MANIFEST) as tmp_manifest:
            tmp_manifest.write_text(json.dumps(pointer, ensure_ascii=False, indent=2, sort_keys=True),
                                    encoding="utf-8")
            tmp_manifest.chmod(0o644)
        pause_point("after-pointer-switched")
        _remove_unused(directory, keep={version} | ({previous} if previous else set()))
    return version


def clean_index_dir(directory: str | os.PathLike) -> list[str]:
    """Remove what interrupted writes left in ``directory`` and versions no longer needed; never
    the version ``manifest.json`` names. Best effort and only when no writer is at work (a
    writer cleans up after itself): it runs on every load. Returns what it removed or restored.

    Also brings back an index an older writer (one folder swapped by two renames) was killed
    in the middle of swapping (embeddings.atomic.recover_directory)."""
    directory = Path(directory)
    try:
        done = recover_directory(directory)
        if not (directory / MANIFEST).is_file():
            return done
        with _writer_lock_if_free(directory) as free:
            if not free:
                return done
            try:
                pointer = read_pointer(directory)
            except QAError:
                return done + _remove_unused(directory, keep=None)  # keep every version of a damaged index
            keep = {pointer.version}
            if pointer.previous and time.time() - (directory / MANIFEST).stat().st_mtime < GRACE_SECONDS:
                keep.add(pointer.previous)
            return done + _remove_unused(directory, keep=keep)
    except OSError as error:
        log.warning("could not clean up %s (%s); it is used as it is", directory, error)
        return []


def _remove_unused(directory: Path, *, keep: set[str] | None) -> list[str]:
    """Under the writer lock: remove temp folders and manifest temp files (no writer is at
    work, so they are stale), versions not in ``keep`` (None: none) and, once a version is
    current, the flat layout's files."""
    versioned = keep is not None and any(name.startswith(VERSION_PREFIX) for name in keep)
    removed = []
    for entry in sorted(directory.iterdir()):
        name = entry.name
        stale = (name.startswith(TEMP_PREFIX) or name.startswith(f".{MANIFEST}.")
                 or keep is not None and entry.is_dir() and name.startswith(VERSION_PREFIX) and name not in keep
                 or versioned and name in FLAT_ENTRIES)
        if not stale:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(name)
    if removed:
        log.info("removed from %s: %s", directory, ", ".join(removed))
    return removed


@contextmanager
def _writer_lock_if_free(directory: Path) -> Iterator[bool]:
    """The writer lock without waiting: yields False when a writer (in this thread too) holds it."""
    try:
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield False   # a read-only index folder: nothing to clean, nothing could be
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
