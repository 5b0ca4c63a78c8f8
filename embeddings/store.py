"""The persisted index: vectors, BM25, the chunks they stand for, the documents, a manifest.

A saved version holds ``vectors.faiss`` (an ID-mapped FAISS index of the kind the manifest
names; the id of a vector is the id of its chunk), ``tombstones.json`` (HNSW: removed ids
FAISS cannot delete from the graph), ``bm25/`` (the German BM25 over the same chunk ids),
``chunks.jsonl`` and ``documents.jsonl``. The index folder keeps complete versions and a
``manifest.json`` that names the current one with each file's size and sha256, switched by
one atomic rename (embeddings/index_folder.py): a crash never leaves half an index or none,
and any damage to the files is found on load and named in one line.

The index is updated in place: ``add_documents`` (new or replacing an existing doc_id) and
``remove_documents``. Chunk ids only ever grow and are never reused, so an id stays the name
of one chunk for the index's whole life.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Collection, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings.errors import QAError
# current_version and clean_index_dir are also for the readers and openers of an index, from here.
from embeddings.index_folder import (MANIFEST, Pointer, check_files, clean_index_dir, current_version, damaged,
                                     publish_version, read_pointer)

log = logging.getLogger(__name__)

# 2: BM25 folder, index kinds, next_chunk_id and retrieval_mode in the manifest.
FORMAT_VERSION = 2
VECTORS = "vectors.faiss"
CHUNKS = "chunks.jsonl"
DOCUMENTS = "documents.jsonl"
BM25_DIR = "bm25"
# Reads of a version that a writer replaced meanwhile are retried with the new one this often.
LOAD_ATTEMPTS = 5


def document_hash(doc: Document) -> str:
    payload = json.dumps([doc.doc_id, doc.title, doc.text, dict(doc.metadata)], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def corpus_fingerprint(documents: Iterable[Document]) -> str:
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.doc_id):
        digest.update(f"{doc.doc_id}\0{document_hash(doc)}\n".encode("utf-8"))
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class IndexManifest:
    """What an index was built from; a mismatch with the current setup means rebuild.

    ``index_kind`` is the FAISS index type (flat, hnsw, ivfpq); ``retrieval_mode`` the best
    mode the index supports ("hybrid" when it carries BM25, else "dense"); ``next_chunk_id``
    the id the next added chunk gets (ids are never reused).
    """

    model_name: str
    model_fingerprint: str
    dimension: int
    chunking: Mapping[str, object]
    corpus_fingerprint: str
    documents: int
    chunks: int
    index_kind: str = "flat"
    retrieval_mode: str = "dense"
    next_chunk_id: int = 0
    format_version: int = FORMAT_VERSION
    extra: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["chunking"] = dict(self.chunking)
        data["extra"] = dict(self.extra)
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)

    @classmethod
    def from_fields(cls, data: Mapping[str, object], *, directory: Path) -> "IndexManifest":
        """The manifest from manifest.json's fields; a missing, unknown or mistyped field is damage."""
        try:
            manifest = cls(**data)
        except TypeError as error:
            raise damaged(directory, f"{MANIFEST}: {error}") from None
        for name, types in _FIELD_TYPES.items():
            value = getattr(manifest, name)
            if not isinstance(value, types) or isinstance(value, bool):
                raise damaged(directory, f"{MANIFEST}: {name} is {value!r}")
        return manifest

    def incompatibilities(self, *, model_name: str, model_fingerprint: str,
                          chunking: Mapping[str, object]) -> list[str]:
        """Reasons that force a full rebuild (every chunk re-embedded)."""
        reasons = []
        if self.format_version != FORMAT_VERSION:
            reasons.append(f"index format {self.format_version} is not the current {FORMAT_VERSION}")
        if self.model_fingerprint != model_fingerprint or self.model_name != model_name:
            reasons.append(f"embedding model changed ({self.model_name} → {model_name})")
        if dict(self.chunking) != dict(chunking):
            reasons.append(f"chunking settings changed ({dict(self.chunking)} → {dict(chunking)})")
        return reasons

    def differences(self, *, model_name: str, model_fingerprint: str,
                    chunking: Mapping[str, object], corpus_fingerprint: str) -> list[str]:
        """Human-readable reasons why this index does not match the current setup."""
        reasons = self.incompatibilities(model_name=model_name, model_fingerprint=model_fingerprint,
                                         chunking=chunking)
        if self.corpus_fingerprint != corpus_fingerprint:
            reasons.append(CORPUS_CHANGED)
        return reasons


_FIELD_TYPES = {"model_name": str, "model_fingerprint": str, "dimension": int, "chunking": Mapping,
                "corpus_fingerprint": str, "documents": int, "chunks": int, "index_kind": str,
                "retrieval_mode": str, "next_chunk_id": int, "format_version": int, "extra": Mapping}
CORPUS_CHANGED = "the corpus changed (articles added, removed or edited)"


def chunk_to_json(chunk_id: int, chunk: Chunk) -> dict:
    return {"id": chunk_id, "doc_id": chunk.doc_id, "start": chunk.start, "end": chunk.end,
            "text": chunk.text, "sentences": [list(s) for s in chunk.sentences]}


def chunk_from_json(data: dict) -> tuple[int, Chunk]:
    return int(data["id"]), Chunk(
        doc_id=data["doc_id"], start=int(data["start"]), end=int(data["end"]), text=data["text"],
        sentences=tuple((int(a), int(b)) for a, b in data.get("sentences", ())),
    )


def document_to_json(doc: Document) -> dict:
    return {"doc_id": doc.doc_id, "title": doc.title, "text": doc.text, "metadata": dict(doc.metadata)}


def document_from_json(data: dict) -> Document:
    return Document(doc_id=data["doc_id"], title=data["title"], text=data["text"],
                    metadata=MappingProxyType(dict(data.get("metadata", {}))))


def new_vector_index(kind: str, dimension: int, *, n_expected: int | None = None):
    """An empty inner-product VectorIndex (cosine on normalised vectors) with stable int64 ids."""
    from embeddings.ann import KINDS, VectorIndex

    if kind not in KINDS:
        raise QAError(f"unknown index type {kind!r}; use one of auto, {', '.join(KINDS)}")
    return VectorIndex.create(kind, dimension, n_expected=n_expected)


@runtime_checkable
class SearchIndex(Protocol):
    """What the retriever and the system use of an index; ChunkIndex (this module, FAISS + bm25s)
    and embeddings.pgstore.PgIndex (pgvector + PostgreSQL full text) both implement it.

    ``bm25`` is None when the index has no keyword side; ``version`` names the saved state it
    reflects (compared with the store's current version to pick up other writers' changes)."""

    manifest: IndexManifest
    documents: Mapping[str, Document]
    chunks: Mapping[int, Chunk]
    bm25: object
    version: str | None

    def __len__(self) -> int: ...
    def chunk_ids(self, doc_ids: Iterable[str]) -> list[int]: ...
    def search(self, query_vectors: np.ndarray, *, k: int, doc_ids: Iterable[str] | None = None,
               allowed_ids: Collection[int] | None = None) -> list[list[tuple[int, float]]]: ...
    def search_bm25(self, question: str, *, k: int, doc_ids: Iterable[str] | None = None,
                    allowed_ids: Collection[int] | None = None) -> list[tuple[int, float]]: ...
    def similarities(self, query_vector: np.ndarray, chunk_ids: Sequence[int]) -> dict[int, float]: ...
    def add_documents(self, documents: Sequence[Document], chunks: Sequence[Chunk],
                      vectors: np.ndarray) -> list[int]: ...
    def relabel_documents(self, documents: Sequence[Document]) -> None: ...
    def remove_documents(self, doc_ids: Iterable[str]) -> int: ...


def check_addition(documents: Sequence[Document], chunks: Sequence[Chunk], vectors: np.ndarray) -> set[str]:
    """The doc ids of an addition whose chunks and vectors fit its documents (one vector per
    chunk, each document once, no chunk of another document); ValueError otherwise. Both stores
    check their additions here."""
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    new_ids = {d.doc_id for d in documents}
    if len(new_ids) != len(documents):
        raise ValueError("the same doc_id twice in one add")
    stray = {c.doc_id for c in chunks} - new_ids
    if stray:
        raise ValueError(f"chunks of documents not being added: {sorted(stray)[:3]}")
    return new_ids


def check_relabel(indexed: Mapping[str, Document], documents: Sequence[Document]) -> None:
    """ValueError unless each of ``documents`` is in ``indexed`` with the same text: only a
    title or metadata may change without new chunks. Both stores check their relabels here."""
    for doc in documents:
        old = indexed.get(doc.doc_id)
        if old is None or old.text != doc.text:
            raise ValueError(f"{doc.doc_id}: only a document indexed with the same text can be relabelled")


class ChunkIndex:
    """Vectors + BM25 + chunks + documents + manifest; searchable, saveable, updatable in place."""

    def __init__(self, *, vectors, chunks: Mapping[int, Chunk], documents: Mapping[str, Document],
                 manifest: IndexManifest, bm25=None) -> None:
        self.vectors = vectors          # embeddings.ann.VectorIndex
        self.bm25 = bm25                # embeddings.bm25.BM25Index over the same chunk ids, or None
        self.chunks = dict(chunks)
        self.documents = dict(documents)
        self._doc_chunks: dict[str, list[int]] = {}
        for chunk_id in sorted(self.chunks):
            self._doc_chunks.setdefault(self.chunks[chunk_id].doc_id, []).append(chunk_id)
        next_id = max(self.chunks, default=-1) + 1
        self.manifest = replace(manifest, next_chunk_id=max(manifest.next_chunk_id, next_id))
        # The saved version this index was loaded from or last saved as (None: never saved);
        # index_folder.current_version(dir) differs once another process saved a newer one.
        self.version: str | None = None

    @classmethod
    def from_vectors(cls, *, documents: Iterable[Document], chunks: list[Chunk], vectors: np.ndarray,
                     manifest: IndexManifest, bm25: bool = True) -> "ChunkIndex":
        """A new index over ``chunks`` (ids 0..n-1) of the kind ``manifest.index_kind``."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        vector_index = new_vector_index(manifest.index_kind, manifest.dimension, n_expected=len(chunks))
        ids = np.arange(len(chunks), dtype=np.int64)
        if len(chunks):
            _add_vectors(vector_index, vectors, ids)
        bm25_index = None
        if bm25:
            from embeddings.bm25 import BM25Index

            bm25_index = BM25Index.build([c.text for c in chunks], ids=ids.tolist())
        manifest = replace(manifest, retrieval_mode="hybrid" if bm25 else "dense", next_chunk_id=len(chunks))
        index = cls(vectors=vector_index, chunks=dict(zip(ids.tolist(), chunks)),
                    documents={d.doc_id: d for d in documents}, manifest=manifest, bm25=bm25_index)
        index._refresh_manifest()
        return index

    def __len__(self) -> int:
        return len(self.chunks)

    def chunk_ids(self, doc_ids: Iterable[str]) -> list[int]:
        """The chunk ids of ``doc_ids`` (unknown ids contribute nothing)."""
        return [cid for doc_id in doc_ids for cid in self._doc_chunks.get(doc_id, ())]

    # ---- search ------------------------------------------------------------------------

    def search(self, query_vectors: np.ndarray, *, k: int, doc_ids: Iterable[str] | None = None,
               allowed_ids: Collection[int] | None = None) -> list[list[tuple[int, float]]]:
        """Top-k (chunk id, cosine) per query vector, optionally only inside ``doc_ids`` and/or
        among ``allowed_ids`` (chunk ids)."""
        query_vectors = np.ascontiguousarray(query_vectors, dtype=np.float32)
        allowed = self._allowed(doc_ids, allowed_ids)
        if not self.chunks or (allowed is not None and len(allowed) == 0):
            return [[] for _ in range(len(query_vectors))]
        k = min(k, len(self.chunks) if allowed is None else len(allowed))
        scores, ids = self.vectors.search(query_vectors, k=k, allowed_ids=allowed)
        results = [[(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0]
                   for row_ids, row_scores in zip(ids, scores)]
        if allowed is not None and self.vectors.kind == "hnsw":
            # HNSW's graph walk can run dry when few ids are allowed; those few are cheap to
            # score exactly instead.
            results = [row if len(row) >= k else self._exact(q, allowed, k)
                       for q, row in zip(query_vectors, results)]
        return results

    def similarities(self, query_vector: np.ndarray, chunk_ids: Sequence[int]) -> dict[int, float]:
        """Cosine of ``query_vector`` with each of ``chunk_ids`` (exact for flat/hnsw, PQ-approximate
        for ivfpq)."""
        import faiss

        ids = [int(i) for i in chunk_ids if int(i) in self.chunks]
        if not ids:
            return {}
        query = np.ascontiguousarray(query_vector, dtype=np.float32).reshape(-1)
        if isinstance(self.vectors.index, faiss.IndexIDMap2):
            vectors = np.stack([self.vectors.index.reconstruct(i) for i in ids])
            return {i: float(s) for i, s in zip(ids, vectors @ query)}
        scores, found = self.vectors.search(query[None, :], k=len(ids), allowed_ids=ids)
        return {int(i): float(s) for i, s in zip(found[0], scores[0]) if i >= 0}

    def _exact(self, query: np.ndarray, allowed: np.ndarray, k: int) -> list[tuple[int, float]]:
        inner = self.vectors.index
        vectors = np.stack([inner.reconstruct(int(i)) for i in allowed])
        scores = vectors @ query
        order = np.lexsort((allowed, -scores))[:k]
        return [(int(allowed[i]), float(scores[i])) for i in order]

    def search_bm25(self, question: str, *, k: int, doc_ids: Iterable[str] | None = None,
                    allowed_ids: Collection[int] | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, BM25 score) for ``question``; chunks sharing no word are left out."""
        if self.bm25 is None:
            raise QAError("this index has no BM25 part; rebuild it with: qa index --rebuild")
        allowed = self._allowed(doc_ids, allowed_ids)
        if allowed is not None and len(allowed) == 0:
            return []
        return self.bm25.search(question, k=k, allowed_ids=None if allowed is None else allowed.tolist())

    def _allowed(self, doc_ids: Iterable[str] | None,
                 allowed_ids: Collection[int] | None) -> np.ndarray | None:
        if doc_ids is None and allowed_ids is None:
            return None
        allowed: set[int] | None = None
        if doc_ids is not None:
            allowed = set(self.chunk_ids(set(doc_ids)))
        if allowed_ids is not None:
            wanted = {int(i) for i in allowed_ids}
            allowed = wanted if allowed is None else allowed & wanted
        return np.array(sorted(allowed), dtype=np.int64)

    # ---- updates -----------------------------------------------------------------------

    def add_documents(self, documents: Sequence[Document], chunks: Sequence[Chunk],
                      vectors: np.ndarray) -> list[int]:
        """Add ``documents`` with their ``chunks`` and ``vectors``; a document whose id is already
        in the index replaces it (its old chunks are removed). Returns the new chunk ids."""
        new_ids = check_addition(documents, chunks, vectors)
        self.remove_documents(sorted(new_ids & set(self.documents)))
        first = self.manifest.next_chunk_id
        ids = np.arange(first, first + len(chunks), dtype=np.int64)
        if len(chunks):
            _add_vectors(self.vectors, vectors, ids)
            if self.bm25 is not None:
                self.bm25.add([c.text for c in chunks], ids=ids.tolist())
        for chunk_id, chunk in zip(ids.tolist(), chunks):
            self.chunks[chunk_id] = chunk
            self._doc_chunks.setdefault(chunk.doc_id, []).append(chunk_id)
        for doc in documents:
            self.documents[doc.doc_id] = doc
        self.manifest = replace(self.manifest, next_chunk_id=first + len(chunks))
        self._refresh_manifest()
        return ids.tolist()

    def relabel_documents(self, documents: Sequence[Document]) -> None:
        """New titles and metadata for documents already indexed with the same text: their
        chunks, vectors and keywords stay (neither the title nor the metadata is embedded)."""
        check_relabel(self.documents, documents)
        for doc in documents:
            self.documents[doc.doc_id] = doc
        self._refresh_manifest()

    def remove_documents(self, doc_ids: Iterable[str]) -> int:
        """Remove documents and their chunks; an unknown id is a QAError. Returns chunks removed."""
        doc_ids = list(dict.fromkeys(doc_ids))
        unknown = [d for d in doc_ids if d not in self.documents]
        if unknown:
            raise QAError(f"unknown document id(s): {', '.join(unknown)}; see qa list")
        chunk_ids = self.chunk_ids(doc_ids)
        if chunk_ids:
            self.vectors.remove(chunk_ids)
            if self.bm25 is not None:
                self.bm25.remove(chunk_ids)
        for chunk_id in chunk_ids:
            del self.chunks[chunk_id]
        for doc_id in doc_ids:
            self._doc_chunks.pop(doc_id, None)
            del self.documents[doc_id]
        self._refresh_manifest()
        return len(chunk_ids)

    def _refresh_manifest(self) -> None:
        from embeddings.ann import describe_index

        info = {k: v for k, v in describe_index(self.vectors.index).items() if k not in ("kind", "vectors")}
        extra = {**dict(self.manifest.extra), "faiss": info}
        if self.bm25 is not None:
            from dataclasses import asdict

            extra["bm25"] = asdict(self.bm25.settings)
        self.manifest = replace(
            self.manifest, corpus_fingerprint=corpus_fingerprint(self.documents.values()),
            documents=len(self.documents), chunks=len(self.chunks), index_kind=self.vectors.kind,
            extra=MappingProxyType(extra))

    # ---- persistence -------------------------------------------------------------------

    def save(self, directory: Path) -> str:
        """Write a new version into ``directory`` and make it the current one atomically
        (embeddings/index_folder.py); returns the version's name, also kept in ``version``."""
        self.version = publish_version(directory, self._write, json.loads(self.manifest.to_json()))
        return self.version

    def _write(self, folder: Path) -> None:
        self.vectors.write(folder)
        if self.bm25 is not None:
            self.bm25.write(folder / BM25_DIR)
        with open(folder / CHUNKS, "w", encoding="utf-8") as out:
            for cid in sorted(self.chunks):
                out.write(json.dumps(chunk_to_json(cid, self.chunks[cid]), ensure_ascii=False) + "\n")
        with open(folder / DOCUMENTS, "w", encoding="utf-8") as out:
            for doc_id in sorted(self.documents):
                out.write(json.dumps(document_to_json(self.documents[doc_id]), ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, directory: Path, *, verify: bool = True) -> "ChunkIndex":
        """The current version in ``directory``, checked against its manifest: every file's size
        and (``verify``) sha256, the counts of documents, chunks, vectors and BM25 rows. Any
        damage is one QAError ("the index in DIR is damaged (what); rebuild it with: qa index").
        Leftovers of interrupted saves are cleaned up first (``clean_index_dir``).

        Hashing is cheap next to parsing: 12 ms for the 16 MB of the 1028-article 10kGNAD index,
        whose load takes 0.1-0.25 s, so every load verifies."""
        directory = Path(directory)
        clean_index_dir(directory)
        pointer = read_pointer(directory)
        for _ in range(LOAD_ATTEMPTS - 1):
            try:
                return cls._read(directory, pointer, verify=verify)
            except QAError:
                # A writer may have switched versions (and removed this one) while it was read;
                # several saves in a row can do that more than once to a slow reader.
                newer = read_pointer(directory)
                if newer.version == pointer.version:
                    raise
                pointer = newer
        return cls._read(directory, pointer, verify=verify)

    @classmethod
    def _read(cls, directory: Path, pointer: Pointer, *, verify: bool) -> "ChunkIndex":
        from embeddings.ann import VectorIndex
        from embeddings.bm25 import SETTINGS_FILE, BM25Index

        manifest = IndexManifest.from_fields(pointer.fields, directory=directory)
        folder = pointer.folder
        if pointer.files is not None:
            missing = [name for name in (VECTORS, CHUNKS, DOCUMENTS) if name not in pointer.files]
            if missing:
                raise damaged(directory, f"{MANIFEST} does not list {', '.join(missing)}")
            check_files(directory, pointer, hashes=verify)
            has_bm25 = f"{BM25_DIR}/{SETTINGS_FILE}" in pointer.files
        else:
            has_bm25 = (folder / BM25_DIR).exists()
        # An older format still loads (without BM25), so callers can say why it must be rebuilt:
        # IndexManifest.differences names the format.
        try:
            vectors = VectorIndex.load(folder)
            chunks = dict(_read_jsonl(folder / CHUNKS, chunk_from_json))
            documents = {d.doc_id: d for d in _read_jsonl(folder / DOCUMENTS, document_from_json)}
            bm25 = BM25Index.read(folder / BM25_DIR) if has_bm25 else None
        except (OSError, RuntimeError, ValueError, KeyError, TypeError, QAError) as error:
            raise damaged(directory, _relative(error, folder)) from None
        _check_counts(directory, manifest, vectors=len(vectors), chunks=chunks, documents=documents, bm25=bm25)
        index = cls(vectors=vectors, chunks=chunks, documents=documents, manifest=manifest, bm25=bm25)
        index.version = pointer.version
        return index


def _read_jsonl(path: Path, parse):
    """``parse(json)`` of each line of a JSON-lines file; a ValueError naming the line when one
    is not UTF-8, not JSON or not what ``parse`` expects."""
    with open(path, "rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield parse(json.loads(line.decode("utf-8")))
            except UnicodeDecodeError:
                raise ValueError(f"{path.name}:{line_no}: not UTF-8 text") from None
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise ValueError(f"{path.name}:{line_no}: not a valid entry ({type(error).__name__}: {error})") from None


def _relative(error: BaseException, folder: Path) -> str:
    """An error's message with the version folder's path taken out (the message names the index
    folder already)."""
    text = str(error).replace(f"{folder}{os.sep}", "")
    if isinstance(error, OSError) and error.filename:
        text = f"{Path(error.filename).name}: {error.strerror or error}"
    elif isinstance(error, RuntimeError):  # FAISS: "Error in <function> at <file>:<line>: <reason>"
        reason = re.sub(r"^Error in .*? at \S+: ", "", " ".join(text.split())) or "no reason given"
        text = f"{VECTORS} cannot be read by FAISS ({reason})"
    return text


def _check_counts(directory: Path, manifest: IndexManifest, *, vectors: int, chunks: Mapping[int, Chunk],
                  documents: Mapping[str, Document], bm25) -> None:
    """The parts agree with each other and with the counts the manifest recorded."""
    problems = []
    if len(documents) != manifest.documents:
        problems.append(f"{DOCUMENTS} holds {len(documents)} documents, the manifest says {manifest.documents}")
    if len(chunks) != manifest.chunks:
        problems.append(f"{CHUNKS} holds {len(chunks)} chunks, the manifest says {manifest.chunks}")
    if vectors != len(chunks):
        problems.append(f"{vectors} vectors for {len(chunks)} chunks")
    if bm25 is not None and sorted(bm25.ids) != sorted(chunks):
        problems.append(f"BM25 has {len(bm25)} rows for {len(chunks)} chunks")
    orphans = {c.doc_id for c in chunks.values()} - set(documents)
    if orphans:
        problems.append(f"chunks of {len(orphans)} documents that are not in {DOCUMENTS}, e.g. {min(orphans)}")
    if problems:
        raise damaged(directory, problems[0])


def _add_vectors(vector_index, vectors: np.ndarray, ids: np.ndarray) -> None:
    try:
        vector_index.add(np.ascontiguousarray(vectors, dtype=np.float32), ids)
    except RuntimeError as error:  # e.g. IVF-PQ training on too few vectors
        raise QAError(f"cannot add {len(ids)} vectors to a {vector_index.kind} index ({error}); "
                      "use a flat or hnsw index for a corpus this small (QA_INDEX_KIND=flat)") from None
