"""Corpus folder → documents → chunks → vectors → a saved ChunkIndex, rebuilt only when stale."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from embeddings.chunking import Chunk, chunk_document
from embeddings.documents import Document, load_corpus
from embeddings.encoder import Embedder
from embeddings.store import ChunkIndex, IndexManifest, corpus_fingerprint
from qa.errors import QAError

log = logging.getLogger(__name__)

# Bump when sentence splitting or chunking changes the chunks it produces.
CHUNKER_VERSION = 1


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """What ``open_index`` did: loaded as is, rebuilt (and why), or kept stale on request."""

    index: ChunkIndex
    rebuilt: bool
    reasons: tuple[str, ...] = ()
    seconds: float = 0.0


def chunking_settings(*, max_tokens: int, overlap: int) -> dict[str, object]:
    return {"max_tokens": max_tokens, "overlap": overlap, "chunker_version": CHUNKER_VERSION}


def chunk_corpus(documents: Sequence[Document], embedder: Embedder, *, max_tokens: int,
                 overlap: int) -> list[Chunk]:
    # The budget counts the model's own tokens, prompt and special tokens included, so a
    # chunk is never truncated by the embedder.
    budget = min(max_tokens, embedder.max_tokens)
    chunks: list[Chunk] = []
    for doc in documents:
        chunks.extend(chunk_document(doc, max_tokens=budget, overlap=overlap,
                                     count_tokens=embedder.count_tokens))
    return chunks


def build_index(documents: Sequence[Document], embedder: Embedder, *, max_tokens: int = 200,
                overlap: int = 1, show_progress: bool = True) -> ChunkIndex:
    """Chunk and embed ``documents`` into a new in-memory ChunkIndex."""
    if not documents:
        raise QAError("the corpus is empty: add .txt or .md articles to the corpus folder")
    started = time.perf_counter()
    chunks = chunk_corpus(documents, embedder, max_tokens=max_tokens, overlap=overlap)
    vectors = embedder.encode_passages([c.text for c in chunks], show_progress=show_progress)
    manifest = IndexManifest(
        model_name=embedder.name, model_fingerprint=embedder.fingerprint,
        dimension=embedder.dimension, chunking=chunking_settings(max_tokens=max_tokens, overlap=overlap),
        corpus_fingerprint=corpus_fingerprint(documents), documents=len(documents), chunks=len(chunks),
    )
    index = ChunkIndex.from_vectors(documents=documents, chunks=chunks, vectors=vectors, manifest=manifest)
    seconds = time.perf_counter() - started
    log.info("indexed %d documents into %d chunks in %.1f s (%.1f chunks/s) with %s",
             len(documents), len(chunks), seconds, len(chunks) / max(seconds, 1e-9), embedder.name)
    return index


def open_index(corpus_dir: Path, index_dir: Path, embedder: Embedder, *, max_tokens: int = 200,
               overlap: int = 1, rebuild: bool = False, allow_rebuild: bool = True,
               show_progress: bool = True) -> IndexStatus:
    """Load the index in ``index_dir`` if it matches corpus, model and chunking; else rebuild.

    With ``allow_rebuild=False`` a stale index is returned as is, with the reasons, so the
    caller can say what changed instead of silently rebuilding.
    """
    started = time.perf_counter()
    documents = load_corpus(Path(corpus_dir))
    reasons: list[str] = []
    manifest_exists = (Path(index_dir) / "manifest.json").exists()
    if rebuild:
        reasons.append("a rebuild was requested")
    elif not manifest_exists:
        reasons.append(f"no index in {index_dir} yet")
    else:
        try:
            index = ChunkIndex.load(index_dir)
        except QAError as error:
            reasons.append(str(error))
        else:
            reasons = index.manifest.differences(
                model_name=embedder.name, model_fingerprint=embedder.fingerprint,
                chunking=chunking_settings(max_tokens=max_tokens, overlap=overlap),
                corpus_fingerprint=corpus_fingerprint(documents),
            )
            if not reasons or not allow_rebuild:
                return IndexStatus(index=index, rebuilt=False, reasons=tuple(reasons),
                                   seconds=time.perf_counter() - started)
    if not allow_rebuild and not manifest_exists:
        raise QAError(f"no index in {index_dir}; build one with: qa index")
    log.info("building the index in %s because %s", index_dir, "; ".join(reasons))
    index = build_index(documents, embedder, max_tokens=max_tokens, overlap=overlap,
                        show_progress=show_progress)
    index.save(Path(index_dir))
    return IndexStatus(index=index, rebuilt=True, reasons=tuple(reasons),
                       seconds=time.perf_counter() - started)
