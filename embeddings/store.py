"""The persisted index: FAISS vectors, the chunks they stand for, the documents, a manifest.

An index folder holds ``vectors.faiss`` (an ID-mapped FAISS index; the id of a vector is the
id of its chunk), ``chunks.jsonl``, ``documents.jsonl`` and ``manifest.json``. It is always
written to a temporary folder beside the target and renamed into place, so a crash never
leaves half an index behind.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping

import numpy as np

from embeddings.chunking import Chunk
from embeddings.documents import Document
from qa.errors import QAError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CHUNKS = "chunks.jsonl"
DOCUMENTS = "documents.jsonl"


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
    """What an index was built from; a mismatch with the current setup means rebuild."""

    model_name: str
    model_fingerprint: str
    dimension: int
    chunking: Mapping[str, object]
    corpus_fingerprint: str
    documents: int
    chunks: int
    index_kind: str = "flat"
    format_version: int = FORMAT_VERSION
    extra: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["chunking"] = dict(self.chunking)
        data["extra"] = dict(self.extra)
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, *, source: Path) -> "IndexManifest":
        try:
            data = json.loads(text)
            manifest = cls(**data)
        except (ValueError, TypeError) as error:
            raise QAError(f"{source} is not a valid index manifest ({error}); "
                          "rebuild the index with: qa index --rebuild") from None
        return manifest

    def differences(self, *, model_name: str, model_fingerprint: str,
                    chunking: Mapping[str, object], corpus_fingerprint: str) -> list[str]:
        """Human-readable reasons why this index does not match the current setup."""
        reasons = []
        if self.format_version != FORMAT_VERSION:
            reasons.append(f"index format {self.format_version} is not the current {FORMAT_VERSION}")
        if self.model_fingerprint != model_fingerprint or self.model_name != model_name:
            reasons.append(f"embedding model changed ({self.model_name} → {model_name})")
        if dict(self.chunking) != dict(chunking):
            reasons.append(f"chunking settings changed ({dict(self.chunking)} → {dict(chunking)})")
        if self.corpus_fingerprint != corpus_fingerprint:
            reasons.append("the corpus changed (articles added, removed or edited)")
        return reasons


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


def new_faiss_index(dimension: int):
    """Exact inner-product search over normalised vectors (= cosine), with stable int64 ids."""
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


class ChunkIndex:
    """Vectors + chunks + documents + manifest; searchable, saveable, updatable by chunk id."""

    def __init__(self, *, faiss_index, chunks: Mapping[int, Chunk], documents: Mapping[str, Document],
                 manifest: IndexManifest) -> None:
        self.faiss_index = faiss_index
        self.chunks = dict(chunks)
        self.documents = dict(documents)
        self.manifest = manifest

    @classmethod
    def from_vectors(cls, *, documents: Iterable[Document], chunks: list[Chunk], vectors: np.ndarray,
                     manifest: IndexManifest) -> "ChunkIndex":
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        index = new_faiss_index(manifest.dimension)
        ids = np.arange(len(chunks), dtype=np.int64)
        if len(chunks):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        return cls(faiss_index=index, chunks=dict(zip(ids.tolist(), chunks)),
                   documents={d.doc_id: d for d in documents}, manifest=manifest)

    def __len__(self) -> int:
        return len(self.chunks)

    def search(self, query_vectors: np.ndarray, *, k: int,
               doc_ids: Iterable[str] | None = None) -> list[list[tuple[int, float]]]:
        """Top-k (chunk id, score) per query vector, optionally only inside ``doc_ids``."""
        import faiss

        if not self.chunks:
            return [[] for _ in range(len(query_vectors))]
        params = None
        if doc_ids is not None:
            wanted = set(doc_ids)
            allowed = np.array([cid for cid, c in self.chunks.items() if c.doc_id in wanted], dtype=np.int64)
            if len(allowed) == 0:
                return [[] for _ in range(len(query_vectors))]
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        k = min(k, len(self.chunks))
        scores, ids = self.faiss_index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k, params=params)
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0]
                for row_ids, row_scores in zip(ids, scores)]

    def save(self, directory: Path) -> None:
        """Write atomically: a temp folder beside ``directory``, renamed into place."""
        import faiss

        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp.", dir=directory.parent))
        try:
            faiss.write_index(self.faiss_index, str(tmp / VECTORS))
            with open(tmp / CHUNKS, "w", encoding="utf-8") as out:
                for cid in sorted(self.chunks):
                    out.write(json.dumps(chunk_to_json(cid, self.chunks[cid]), ensure_ascii=False) + "\n")
            with open(tmp / DOCUMENTS, "w", encoding="utf-8") as out:
                for doc_id in sorted(self.documents):
                    out.write(json.dumps(document_to_json(self.documents[doc_id]), ensure_ascii=False) + "\n")
            (tmp / MANIFEST).write_text(self.manifest.to_json(), encoding="utf-8")
            old = None
            if directory.exists():
                old = directory.with_name(f".{directory.name}.old.{os.getpid()}")
                os.replace(directory, old)
            os.replace(tmp, directory)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, directory: Path) -> "ChunkIndex":
        import faiss

        directory = Path(directory)
        manifest_path = directory / MANIFEST
        if not manifest_path.exists():
            raise QAError(f"no index in {directory} (missing {MANIFEST}); build one with: qa index")
        manifest = IndexManifest.from_json(manifest_path.read_text(encoding="utf-8"), source=manifest_path)
        try:
            faiss_index = faiss.read_index(str(directory / VECTORS))
            chunks = dict(chunk_from_json(json.loads(line)) for line in
                          (directory / CHUNKS).read_text(encoding="utf-8").splitlines() if line.strip())
            documents = [document_from_json(json.loads(line)) for line in
                         (directory / DOCUMENTS).read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, RuntimeError, ValueError, KeyError) as error:
            raise QAError(f"the index in {directory} is damaged ({type(error).__name__}: {error}); "
                          "rebuild it with: qa index --rebuild") from None
        if faiss_index.ntotal != len(chunks):
            raise QAError(f"the index in {directory} is inconsistent ({faiss_index.ntotal} vectors, "
                          f"{len(chunks)} chunks); rebuild it with: qa index --rebuild")
        return cls(faiss_index=faiss_index, chunks=chunks,
                   documents={d.doc_id: d for d in documents}, manifest=manifest)
