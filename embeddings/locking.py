"""One writer at a time for an index folder, across processes and threads: an OS file lock
(``flock``) on ``INDEX_DIR/.writer.lock``. Readers never take it: they load a complete saved
version whatever a writer is doing (embeddings/store.py)."""
from __future__ import annotations

import fcntl
import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from embeddings.errors import QAError

log = logging.getLogger(__name__)

LOCK_FILE = ".writer.lock"
_held = threading.local()   # folders this thread holds already: the lock is re-entrant per thread


@contextmanager
def writer_lock(index_dir: str | os.PathLike) -> Iterator[None]:
    """Hold the index folder's writer lock for the block, waiting (with a log line) while
    another process or thread holds it. The lock goes with the process: a writer killed
    mid-way never leaves it held. Re-entrant within a thread (a writer may open the index,
    which may write too). QAError when the folder cannot hold a lock file."""
    folder = Path(index_dir)
    key = str(folder.resolve())
    held = getattr(_held, "folders", None)
    if held is None:
        held = _held.folders = {}
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise QAError(f"cannot use {folder} as an index folder ({error.strerror or error}); "
                      "give a writable folder with --index-dir or QA_INDEX_DIR") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another writer is changing %s; waiting for it to finish", folder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        held[key] = 1
        yield
    finally:
        held.pop(key, None)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
