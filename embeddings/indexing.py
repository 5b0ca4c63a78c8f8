"""Corpus folder → documents → chunks → vectors → a saved ChunkIndex, kept in step with the folder.

The corpus folder is the source of truth. ``open_index`` loads the saved index and, when the
folder changed, updates it in place: documents whose content hash is unchanged are skipped,
changed ones are re-chunked and re-embedded, deleted ones are dropped. Only a change of
embedding model, chunking or index format forces a full rebuild.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping, Protocol, Sequence

import numpy as np

from embeddings.atomic import atomic_file
from embeddings.chunking import Chunk, body_start, chunk_documents
from embeddings.documents import METADATA_VERSION, Document, corpus_snapshot, load_corpus
from embeddings.encoder import Embedder
from embeddings.store import CORPUS_CHANGED, ChunkIndex, IndexManifest, SearchIndex, corpus_fingerprint, document_hash
from embeddings.targets import FolderStore, IndexTarget, open_target
from embeddings.errors import QAError

log = logging.getLogger(__name__)

# Bump when sentence splitting or chunking changes the chunks it produces.
CHUNKER_VERSION = 1
# The manifest's record of the corpus files the index reflects: name -> [size, mtime in ns],
# trusted only while it was made by the same way of reading files (documents.METADATA_VERSION):
# after an upgrade that reads titles or metadata differently every file is read once again.
CORPUS_FILES = "corpus_files"
CORPUS_FILES_READER = "corpus_files_metadata_version"
# Chunks embedded per call while updating: one progress bar over all of them, and memory
# bounded for large additions (1000 articles ≈ 10k chunks).
EMBED_BATCH = 128
INDEX_KINDS = ("auto", "flat", "hnsw", "ivfpq")
# The manifest's record of the backends (embeddings.backends) whose vectors the index holds:
# torch, onnx and openvino give the same vectors, so switching among them keeps the index and
# this list says which wrote into it.
EMBEDDING_BACKENDS = "embedding_backends"


@dataclass(frozen=True, slots=True)
class IndexChanges:
    """What an in-place update did, by document (and chunks embedded/removed)."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    chunks_added: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0
    relabelled: tuple[str, ...] = ()   # same text, new title or metadata: not embedded again

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.relabelled)

    def summary(self) -> str:
        relabelled = f"relabelled {len(self.relabelled)}, " if self.relabelled else ""
        return (f"added {len(self.added)}, updated {len(self.updated)}, {relabelled}unchanged {len(self.unchanged)}, "
                f"removed {len(self.removed)}; chunks +{self.chunks_added} -{self.chunks_removed} "
                f"({self.seconds:.1f} s)")


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """What ``open_index`` did: loaded as is, updated in place, rebuilt (and why), or kept
    stale on request."""

    index: SearchIndex
    rebuilt: bool
    reasons: tuple[str, ...] = ()
    seconds: float = 0.0
    changes: IndexChanges | None = None   # set when the index was updated in place

    @property
    def updated(self) -> bool:
        return self.changes is not None and self.changes.changed

    @property
    def state(self) -> str:
        if self.rebuilt:
            return "rebuilt"
        if self.updated:
            return "updated"
        return "out of date" if self.reasons else "up to date"


def chunking_settings(*, max_tokens: int, overlap: int) -> dict[str, object]:
    return {"max_tokens": max_tokens, "overlap": overlap, "chunker_version": CHUNKER_VERSION}


def chunk_corpus(documents: Sequence[Document], embedder: Embedder, *, max_tokens: int,
                 overlap: int) -> list[Chunk]:
    """``chunk_documents`` with the embedder's own token counter and budget: the budget counts
    the model's tokens, prompt and special tokens included, so no chunk is truncated when
    embedded."""
    return chunk_documents(documents, max_tokens=min(max_tokens, embedder.max_tokens), overlap=overlap,
                           count_tokens=embedder.count_tokens)


def embed_chunks(chunks: Sequence[Chunk], embedder: Embedder, *, show_progress: bool = True,
                 batch_size: int = EMBED_BATCH) -> np.ndarray:
    """Passage vectors for ``chunks`` in batches, with one tqdm bar over all of them."""
    if len(chunks) <= batch_size:
        return embedder.encode_passages([c.text for c in chunks], show_progress=show_progress)
    from tqdm import tqdm

    parts = []
    with tqdm(total=len(chunks), unit="chunk", desc="embedding", disable=not show_progress) as bar:
        for start in range(0, len(chunks), batch_size):
            batch = chunks[start:start + batch_size]
            parts.append(embedder.encode_passages([c.text for c in batch], show_progress=False))
            bar.update(len(batch))
    return np.concatenate(parts)


class CorpusEncoder(Protocol):
    """Documents → their chunks (in document order, as ``chunk_corpus`` makes them) and one passage
    vector per chunk, in chunk order. ``encode_locally`` does it in this process;
    embeddings.ray_indexing.RayCorpusEncoder on a Ray cluster. Whatever encodes, the index is
    built (or updated) from the result by the same code."""

    def __call__(self, documents: Sequence[Document], embedder: Embedder, *, max_tokens: int, overlap: int,
                 show_progress: bool) -> tuple[list[Chunk], np.ndarray]: ...


def encode_locally(documents: Sequence[Document], embedder: Embedder, *, max_tokens: int, overlap: int,
                   show_progress: bool) -> tuple[list[Chunk], np.ndarray]:
    """``CorpusEncoder`` in this process: ``chunk_corpus`` then ``embed_chunks``."""
    chunks = chunk_corpus(documents, embedder, max_tokens=max_tokens, overlap=overlap)
    return chunks, embed_chunks(chunks, embedder, show_progress=show_progress)


def _check_encoded(chunks: Sequence[Chunk], vectors: np.ndarray, embedder: Embedder) -> None:
    """An encoder's output must be one vector of the embedder's dimension per chunk."""
    if vectors.shape != (len(chunks), embedder.dimension):
        raise QAError(f"the corpus encoder returned {vectors.shape[0]} vectors of dimension "
                      f"{vectors.shape[1] if vectors.ndim == 2 else '?'} for {len(chunks)} chunks of "
                      f"dimension {embedder.dimension}; nothing was written")


def _note_backend(manifest: IndexManifest, embedder: Embedder) -> IndexManifest:
    """``manifest`` with the embedder's backend added to the backends the index holds vectors of."""
    backend = getattr(embedder, "backend", None)   # test fakes have none
    if backend is None:
        return manifest
    backends = sorted(set(manifest.extra.get(EMBEDDING_BACKENDS) or ()) | {backend})
    return replace(manifest, extra=MappingProxyType({**manifest.extra, EMBEDDING_BACKENDS: backends}))


def resolve_index_kind(kind: str, n_chunks: int, dimension: int) -> str:
    """``auto`` → embeddings.ann.choose_kind by corpus size (flat for small corpora)."""
    if kind not in INDEX_KINDS:
        raise QAError(f"unknown index type {kind!r}; use one of {', '.join(INDEX_KINDS)} "
                      "(--index-kind or QA_INDEX_KIND)")
    if kind != "auto":
        return kind
    from embeddings.ann import choose_kind

    return choose_kind(n_chunks, dim=dimension)


def build_index(documents: Sequence[Document], embedder: Embedder, *, max_tokens: int = 200,
                overlap: int = 1, show_progress: bool = True, index_kind: str = "auto",
                bm25: bool = True, encode_corpus: CorpusEncoder = encode_locally,
                target: IndexTarget | None = None) -> SearchIndex:
    """Chunk and embed ``documents`` into a new index (with BM25 by default): an in-memory
    ChunkIndex, or one written into ``target`` (uncommitted until ``target.save``).
    ``encode_corpus`` does the chunking and embedding (here, or on Ray)."""
    if not documents:
        raise QAError("the corpus is empty: add .txt, .md, .html or .pdf articles to the corpus folder")
    started = time.perf_counter()
    chunks, vectors = encode_corpus(documents, embedder, max_tokens=max_tokens, overlap=overlap,
                                    show_progress=show_progress)
    _check_encoded(chunks, vectors, embedder)
    kind = resolve_index_kind(index_kind, len(chunks), embedder.dimension)
    manifest = IndexManifest(
        model_name=embedder.name, model_fingerprint=embedder.fingerprint,
        dimension=embedder.dimension, chunking=chunking_settings(max_tokens=max_tokens, overlap=overlap),
        corpus_fingerprint=corpus_fingerprint(documents), documents=len(documents), chunks=len(chunks),
        index_kind=kind,
    )
    manifest = _note_backend(manifest, embedder)
    if target is None:
        index = ChunkIndex.from_vectors(documents=documents, chunks=chunks, vectors=vectors, manifest=manifest,
                                        bm25=bm25)
    else:
        index = target.from_vectors(documents=documents, chunks=chunks, vectors=vectors, manifest=manifest,
                                    bm25=bm25)
    seconds = time.perf_counter() - started
    log.info("indexed %d documents into %d chunks in %.1f s (%.1f chunks/s) with %s, %s index%s",
             len(documents), len(chunks), seconds, len(chunks) / max(seconds, 1e-9), embedder.name,
             index.manifest.index_kind, " + BM25" if bm25 else "")
    return index


def update_index(index: SearchIndex, documents: Sequence[Document], embedder: Embedder, *,
                 remove: Iterable[str] = (), show_progress: bool = True,
                 encode_corpus: CorpusEncoder = encode_locally) -> IndexChanges:
    """Upsert ``documents`` into ``index`` by content hash, then remove the ``remove`` ids.

    Unchanged documents are skipped, new ones added, changed ones replace their old chunks
    (new chunk ids; old ids are never reused). Nothing is saved: call ``index.save``.
    """
    started = time.perf_counter()
    chunking = dict(index.manifest.chunking)
    if index.manifest.model_fingerprint != embedder.fingerprint:
        raise QAError(f"the index was built with {index.manifest.model_name}, not {embedder.name}; "
                      "rebuild it with: qa index --rebuild (or pass the index's --model)")
    added, updated, relabelled, unchanged = [], [], [], []
    for doc in documents:
        old = index.documents.get(doc.doc_id)
        if old is None:
            added.append(doc)
        elif document_hash(old) == document_hash(doc):
            unchanged.append(doc.doc_id)
        elif old.text == doc.text and body_start(old) == body_start(doc):
            relabelled.append(doc)   # only the title or metadata changed: nothing to embed
        else:
            updated.append(doc)
    if relabelled:
        index.relabel_documents(relabelled)
    fresh = added + updated
    chunks, vectors = encode_corpus(fresh, embedder, max_tokens=int(chunking["max_tokens"]),
                                    overlap=int(chunking["overlap"]), show_progress=show_progress)
    _check_encoded(chunks, vectors, embedder)
    removed_chunks = len(index.chunk_ids([d.doc_id for d in updated]))
    if fresh:
        index.add_documents(fresh, chunks, vectors)
        index.manifest = _note_backend(index.manifest, embedder)
    remove = [doc_id for doc_id in dict.fromkeys(remove)]
    if remove:
        removed_chunks += index.remove_documents(remove)
    changes = IndexChanges(
        added=tuple(d.doc_id for d in added), updated=tuple(d.doc_id for d in updated),
        relabelled=tuple(d.doc_id for d in relabelled), unchanged=tuple(unchanged), removed=tuple(remove), chunks_added=len(chunks),
        chunks_removed=removed_chunks, seconds=time.perf_counter() - started)
    if changes.changed:
        log.info("index updated in place: %s", changes.summary())
    return changes


def sync_index(index: SearchIndex, documents: Sequence[Document], embedder: Embedder, *,
               show_progress: bool = True, encode_corpus: CorpusEncoder = encode_locally) -> IndexChanges:
    """Make ``index`` hold exactly ``documents`` (the corpus folder), re-embedding only what changed."""
    present = {d.doc_id for d in documents}
    gone = sorted(doc_id for doc_id in index.documents if doc_id not in present)
    return update_index(index, documents, embedder, remove=gone, show_progress=show_progress,
                        encode_corpus=encode_corpus)


def open_index(corpus_dir: Path, index_dir: Path | IndexTarget, embedder: Embedder, *, max_tokens: int = 200,
               overlap: int = 1, rebuild: bool = False, allow_rebuild: bool = True,
               show_progress: bool = True, index_kind: str = "auto",
               encode_corpus: CorpusEncoder = encode_locally, sync_corpus: bool = True) -> IndexStatus:
    """Load the index in ``index_dir`` (a folder, or any IndexTarget: embeddings/targets.py) and
    bring it in step with ``corpus_dir``.

    A changed corpus is applied in place (see ``sync_index``); a changed model, chunking or
    format, or an explicit ``index_kind`` other than the saved one, rebuilds. With
    ``allow_rebuild=False`` a stale index is returned as is, with the reasons, so the caller
    can say what changed instead of silently changing it. With ``sync_corpus=False`` a
    changed corpus is only reported (reason CORPUS_CHANGED), never written, while an index
    that does not fit the model or chunking is still an error or a rebuild as above: for a
    database other machines serve, whose local folder may be older or partial.

    Only a write takes the folder's writer lock (embeddings.locking), and everything is decided
    again once it is held: another writer may have brought the index up to date meanwhile.
    """
    target = open_target(index_dir)
    options = dict(max_tokens=max_tokens, overlap=overlap, rebuild=rebuild, allow_rebuild=allow_rebuild,
                   show_progress=show_progress, index_kind=index_kind, encode_corpus=encode_corpus,
                   sync_corpus=sync_corpus)
    status = None if rebuild and allow_rebuild else _open_index(corpus_dir, target, embedder, may_write=False,
                                                                **options)
    if status is not None:
        return status
    with target.writer_lock():
        return _open_index(corpus_dir, target, embedder, may_write=True, **options)


def _open_index(corpus_dir: Path, target: IndexTarget, embedder: Embedder, *, max_tokens: int, overlap: int,
                rebuild: bool, allow_rebuild: bool, show_progress: bool, index_kind: str,
                encode_corpus: CorpusEncoder, may_write: bool, sync_corpus: bool = True) -> IndexStatus | None:
    """``open_index``'s decision and work; None when it must write and ``may_write`` is False."""
    started = time.perf_counter()
    chunking = chunking_settings(max_tokens=max_tokens, overlap=overlap)
    reasons: list[str] = []
    target.clean()   # what a killed writer left; an old two-rename swap restored
    # Taken before anything is read: a file changed while the corpus is read counts as changed.
    snapshot = corpus_snapshot(corpus_dir)
    manifest_exists = target.exists()
    index = None
    if rebuild:
        reasons.append("a rebuild was requested")
    elif not manifest_exists:
        reasons.append(f"no index in {target.name} yet")
    else:
        try:
            index = target.load()
        except QAError as error:
            reasons.append(str(error))
    # Files whose size and mtime are as the index recorded them are not read again.
    documents = load_corpus(Path(corpus_dir), unchanged=None if index is None else unchanged_files(index, snapshot))
    if index is not None:   # loaded: nothing else can be wrong yet
        reasons = index.manifest.incompatibilities(
            model_name=embedder.name, model_fingerprint=embedder.fingerprint, chunking=chunking)
        if index_kind not in ("auto", index.manifest.index_kind) and isinstance(index, ChunkIndex):
            resolve_index_kind(index_kind, 0, embedder.dimension)  # a typo is an error, not a rebuild
            reasons.append(f"index type changed ({index.manifest.index_kind} → {index_kind})")
        # A record of the files made by an older METADATA_VERSION is renewed like a changed corpus.
        stale_corpus = (index.manifest.corpus_fingerprint != corpus_fingerprint(documents)
                        or index.manifest.extra.get(CORPUS_FILES_READER) != METADATA_VERSION)
        if not allow_rebuild:
            return IndexStatus(index=index, rebuilt=False,
                               reasons=tuple(reasons + [CORPUS_CHANGED] * stale_corpus),
                               seconds=time.perf_counter() - started)
        if not reasons:
            changes = None
            if stale_corpus and not sync_corpus:   # reported, not written
                return IndexStatus(index=index, rebuilt=False, reasons=(CORPUS_CHANGED,),
                                   seconds=time.perf_counter() - started)
            if stale_corpus and not may_write:
                return None
            if stale_corpus:
                changes = sync_index(index, documents, embedder, show_progress=show_progress,
                                     encode_corpus=encode_corpus)
                remember_files(index, snapshot)
                target.save(index)
            return IndexStatus(index=index, rebuilt=False,
                               reasons=(update_reason(changes),) if stale_corpus else (),
                               seconds=time.perf_counter() - started, changes=changes)
    if not allow_rebuild:
        if manifest_exists and reasons:
            raise QAError(reasons[0])  # a damaged index: ChunkIndex.load said what and what to do
        raise QAError(f"no index in {target.name}; build one with: qa index")
    if not may_write:
        return None
    if index is not None and not rebuild and not isinstance(index, ChunkIndex):
        # A database may serve others: an index of another model or chunking is replaced only on request.
        raise QAError(f"the index in {target.name} does not fit this setup: {'; '.join(reasons)}; "
                      "replace it with: qa index --rebuild --store URL (for every user of that database), "
                      "or use the settings it was built with")
    log.info("building the index in %s because %s", target.name, "; ".join(reasons))
    index = build_index(documents, embedder, max_tokens=max_tokens, overlap=overlap,
                        show_progress=show_progress, index_kind=index_kind, encode_corpus=encode_corpus,
                        target=None if isinstance(target, FolderStore) else target)
    remember_files(index, snapshot)
    target.save(index)
    return IndexStatus(index=index, rebuilt=True, reasons=tuple(reasons),
                       seconds=time.perf_counter() - started)


RELABELLED = "article titles or metadata changed (their passages were kept, nothing embedded again)"
RECORD_RENEWED = ("the index's record of the corpus files was made by an older version "
                  "(renewed; no article changed)")


def update_reason(changes: IndexChanges) -> str:
    """Why an index was updated in place, as its changes show: articles added, edited or
    removed; only titles or metadata relabelled; or only the record of the files renewed."""
    if changes.added or changes.updated or changes.removed:
        return CORPUS_CHANGED
    return RELABELLED if changes.relabelled else RECORD_RENEWED


def unchanged_files(index: SearchIndex, snapshot: Mapping[str, list[int]]) -> dict[str, Document]:
    """The index's documents whose files have the size and mtime the index recorded for them
    (none when the record was made by another METADATA_VERSION)."""
    if index.manifest.extra.get(CORPUS_FILES_READER) != METADATA_VERSION:
        return {}
    known = index.manifest.extra.get(CORPUS_FILES) or {}
    return {name: index.documents[name] for name, stat in snapshot.items()
            if name in index.documents and list(known.get(name) or ()) == list(stat)}


def remember_files(index: SearchIndex, snapshot: Mapping[str, list[int]], *,
                   only: Iterable[str] | None = None) -> None:
    """Record in the manifest the corpus files' size and mtime the index now reflects (all of
    ``snapshot``, or just the names in ``only``, which were written or deleted by this writer)."""
    current = index.manifest.extra.get(CORPUS_FILES_READER) == METADATA_VERSION
    files = dict(index.manifest.extra.get(CORPUS_FILES) or {}) if only is not None and current else {}
    for name in (snapshot if only is None else only):
        if name in snapshot:
            files[name] = list(snapshot[name])
        else:
            files.pop(name, None)
    index.manifest = replace(index.manifest, extra=MappingProxyType({
        **index.manifest.extra, CORPUS_FILES: dict(sorted(files.items())), CORPUS_FILES_READER: METADATA_VERSION}))


# ---- the living corpus: files in, files out ------------------------------------------------

@dataclass(frozen=True, slots=True)
class CorpusUpdate:
    """What ``add_to_corpus``/``remove_from_corpus`` did: index changes plus skipped inputs."""

    changes: IndexChanges
    skipped: tuple[str, ...] = ()   # "path: reason", one per refused input


def article_files(paths: Iterable[Path | str]) -> list[Path]:
    """Files named by ``paths``: a file as is, a folder's visible files (not its sub-folders).

    A hidden or special file named itself is a mistake, refused in one line: the corpus would
    drop the one and cannot read the other. A folder's special files go on to ``load_articles``,
    which skips each with its reason."""
    from embeddings.documents import check_regular_file

    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(p for p in sorted(path.iterdir(), key=lambda p: p.name)
                         if not p.name.startswith(".") and not p.is_dir())
        elif path.exists():
            if path.name.startswith("."):
                raise QAError(f"{path}: a hidden file (its name starts with '.'), which the corpus folder "
                              "ignores; rename it without the dot and add it again")
            check_regular_file(path)
            files.append(path)
        else:
            raise QAError(f"{path} does not exist; give article files (.txt, .md, .html, .pdf) or folders")
    return files


def load_articles(files: Sequence[Path]) -> tuple[list[tuple[Path, Document]], list[str]]:
    """Each usable file as (path, Document); unusable ones and repeated ids skipped with a WARNING."""
    from embeddings.documents import load_document

    loaded: list[tuple[Path, Document]] = []
    skipped: list[str] = []
    seen: dict[str, Path] = {}
    for file in files:
        try:
            doc = load_document(file)
        except QAError as error:
            log.warning("skipping %s", error)
            skipped.append(str(error))
            continue
        if doc.doc_id in seen:
            reason = (f"{file}: skipped, the document id {doc.doc_id} is already taken by {seen[doc.doc_id]} "
                      "in this call; rename one of them")
            log.warning("%s", reason)
            skipped.append(reason)
            continue
        seen[doc.doc_id] = file
        loaded.append((file, doc))
    return loaded, skipped


def none_usable(skipped: Sequence[str]) -> str:
    """The message when no file of an add is usable: the first reasons, then what to give."""
    reasons = "; ".join(skipped[:3]) + (f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else "")
    return (f"none of the given files is a usable article: {reasons}; "
            "give UTF-8 .txt/.md, .html or .pdf files with text")


def _umask() -> int:
    """The process's umask, read without changing it (Linux), else set and restored at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def corpus_has_articles(corpus_dir: Path) -> bool:
    from embeddings.documents import SUPPORTED_SUFFIXES

    corpus_dir = Path(corpus_dir)
    return corpus_dir.is_dir() and any(
        p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SUPPORTED_SUFFIXES
        for p in corpus_dir.iterdir())


def copy_into_corpus(files: Iterable[Path], corpus_dir: Path) -> None:
    """Copy article files into the corpus folder (atomically each; identical copies untouched)."""
    import shutil

    corpus_dir = Path(corpus_dir)
    if corpus_dir.exists() and not corpus_dir.is_dir():
        raise QAError(f"the corpus {corpus_dir} is a single file; qa add needs a corpus folder "
                      "(--corpus or QA_CORPUS_DIR)")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for file in files:
        target = corpus_dir / file.name
        if target.exists() and (target.resolve() == file.resolve() or target.read_bytes() == file.read_bytes()):
            continue
        with atomic_file(target) as tmp:
            shutil.copyfile(file, tmp)
            tmp.chmod(0o666 & ~_umask())   # a temp file is 0600; an article is like any other file
        log.debug("copied %s to %s", file, target)


def add_to_corpus(index: SearchIndex, files: Sequence[Path], embedder: Embedder, *, corpus_dir: Path,
                  index_dir: Path | IndexTarget, show_progress: bool = True) -> CorpusUpdate:
    """Add or update article files: embed what is new or changed, copy the files into the
    corpus folder (the source of truth) and save the index. Unusable files are skipped."""
    loaded, skipped = load_articles(files)
    if not loaded:
        raise QAError(none_usable(skipped))
    changes = update_index(index, [doc for _, doc in loaded], embedder, show_progress=show_progress)
    fresh = set(changes.added) | set(changes.updated)
    copy_into_corpus([file for file, doc in loaded if doc.doc_id in fresh or
                      not (Path(corpus_dir) / file.name).exists()], corpus_dir)
    if changes.changed:
        remember_files(index, corpus_snapshot(corpus_dir), only=[doc.doc_id for _, doc in loaded])
        open_target(index_dir).save(index)
    return CorpusUpdate(changes=changes, skipped=tuple(skipped))


def remove_from_corpus(index: SearchIndex, doc_ids: Sequence[str], *, corpus_dir: Path,
                       index_dir: Path | IndexTarget) -> IndexChanges:
    """Remove documents from the index and delete their files from the corpus folder."""
    doc_ids = list(dict.fromkeys(doc_ids))
    unknown = [d for d in doc_ids if d not in index.documents]
    if unknown:
        raise QAError(f"unknown document id(s): {', '.join(unknown)}; see qa list")
    if len(doc_ids) == len(index.documents):
        raise QAError(f"removing all {len(doc_ids)} documents would leave the corpus empty; "
                      "add other articles first (qa add) or point --corpus at another folder")
    started = time.perf_counter()
    removed = index.remove_documents(doc_ids)
    for doc_id in doc_ids:
        path = Path(corpus_dir) / doc_id
        if path.is_file():
            path.unlink()
            log.info("deleted %s", path)
    remember_files(index, corpus_snapshot(corpus_dir), only=doc_ids)
    open_target(index_dir).save(index)
    return IndexChanges(removed=tuple(doc_ids), chunks_removed=removed, seconds=time.perf_counter() - started)
