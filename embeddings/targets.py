"""Where an index lives: an index folder (FAISS + bm25s files, the default) or a PostgreSQL
database (``--store postgresql://...``, embeddings/pgstore.py). Both give the same surface,
:class:`IndexTarget`, so indexing (embeddings/indexing.py) and the system (qa/system.py) open,
lock, build, save and watch either without knowing which it is; and both indexes answer the
retriever through :class:`embeddings.store.SearchIndex`.

``open_target(index_dir, store)``: ``store`` None (or empty) is the folder ``index_dir``;
a ``postgresql://`` URL is that database. ``write_index`` builds or replaces an index in any
target from documents, chunks and vectors computed elsewhere (e.g. on a Ray cluster).
"""
from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Iterable, Protocol, Sequence, runtime_checkable

import numpy as np

from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings.errors import QAError
from embeddings.locking import writer_lock
from embeddings.pgstore import PgStore, is_database_url
from embeddings.store import ChunkIndex, IndexManifest, clean_index_dir, current_version


@runtime_checkable
class IndexTarget(Protocol):
    """An index's home: ``name`` for messages ("index" or "PostgreSQL db@host")."""

    name: str

    def exists(self) -> bool: ...
    def load(self, *, verify: bool = True): ...
    def clean(self) -> None: ...
    def writer_lock(self) -> AbstractContextManager[None]: ...
    def current_version(self) -> str | None: ...
    def save(self, index) -> None: ...
    def from_vectors(self, *, documents: Iterable[Document], chunks: list[Chunk], vectors: np.ndarray,
                     manifest: IndexManifest, bm25: bool = True): ...


class FolderStore:
    """The embedded index in a folder: complete versions and manifest.json (embeddings/store.py)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.name = str(self.directory)

    def __str__(self) -> str:
        return self.name

    def exists(self) -> bool:
        return (self.directory / "manifest.json").exists()

    def load(self, *, verify: bool = True) -> ChunkIndex:
        return ChunkIndex.load(self.directory, verify=verify)

    def clean(self) -> None:
        clean_index_dir(self.directory)

    def writer_lock(self) -> AbstractContextManager[None]:
        return writer_lock(self.directory)

    def current_version(self) -> str | None:
        return current_version(self.directory)

    def save(self, index) -> None:
        index.save(self.directory)

    def from_vectors(self, *, documents, chunks, vectors, manifest, bm25: bool = True) -> ChunkIndex:
        return ChunkIndex.from_vectors(documents=documents, chunks=chunks, vectors=vectors, manifest=manifest,
                                       bm25=bm25)


def open_target(index_dir: str | os.PathLike | IndexTarget, store: str | None = None) -> IndexTarget:
    """The target for ``store`` (a PostgreSQL URL) or else the folder ``index_dir``; a target
    given as ``index_dir`` is returned as it is."""
    if isinstance(index_dir, (FolderStore, PgStore)):
        return index_dir
    if store:
        if not is_database_url(store):
            raise QAError(f"--store {store!r} is not a PostgreSQL URL; write "
                          "postgresql://user:password@host:port/database, or leave it out for the index folder")
        return PgStore(store)
    return FolderStore(index_dir)


def write_index(target: IndexTarget, *, documents: Sequence[Document], chunks: list[Chunk], vectors: np.ndarray,
                manifest: IndexManifest):
    """Build a new index in ``target`` from precomputed chunks and vectors (chunk ids 0..n-1),
    under the target's writer lock, replacing what was there; returns the saved index. The
    store-agnostic way in for indexing done elsewhere (a Ray cluster, a benchmark)."""
    with target.writer_lock():
        index = target.from_vectors(documents=documents, chunks=chunks, vectors=vectors, manifest=manifest)
        target.save(index)
    return index


__all__ = ["FolderStore", "IndexTarget", "PgStore", "open_target", "write_index"]
