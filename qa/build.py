"""Settings → loaded models, index, retriever and pipeline: the one place that wires them."""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from embeddings.encoder import load_embedder
from embeddings.indexing import IndexStatus, open_index
from qa.retriever import Retriever
from qa.settings import Settings

if TYPE_CHECKING:
    from qa.pipeline import QAPipeline

log = logging.getLogger(__name__)


def build_retriever(settings: Settings, *, rebuild: bool = False, allow_rebuild: bool = True,
                    show_progress: bool = True) -> tuple[Retriever, IndexStatus]:
    """Load the embedder and the index for ``settings`` (rebuilding a stale index if allowed)."""
    started = time.perf_counter()
    embedder = load_embedder(settings.embedding_model, cache_dir=settings.cache_dir)
    log.info("embedding model: %s (loaded in %.1f s)", embedder.name, time.perf_counter() - started)
    status = open_index(settings.corpus_dir, settings.index_dir, embedder,
                        max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap,
                        rebuild=rebuild, allow_rebuild=allow_rebuild, show_progress=show_progress,
                        index_kind=settings.index_kind)
    if status.rebuilt:
        log.info("index rebuilt in %s: %s", settings.index_dir, "; ".join(status.reasons))
    elif status.changes is not None:
        log.info("index in %s updated in place to match %s: %s", settings.index_dir,
                 settings.corpus_dir, status.changes.summary())
    elif status.reasons:
        log.warning("the index in %s is out of date (%s); run qa index to bring it up to date",
                    settings.index_dir, "; ".join(status.reasons))
    return Retriever(status.index, embedder, mode=settings.retrieval_mode), status


def build_reader(settings: Settings):
    """The reader for ``settings``: model, reading mode and how answers of several passages rank."""
    from qa.errors import QAError
    from qa.reader import load_reader, ranking_option_problem

    problem = ranking_option_problem(mode=settings.reader_mode, passage_prior=settings.passage_prior,
                                     null_weight=settings.null_weight)
    if problem is not None:
        raise QAError(f"reader {problem}; fix QA_READER_MODE, QA_PASSAGE_PRIOR or QA_NULL_WEIGHT")
    started = time.perf_counter()
    reader = load_reader(settings.reader_model, cache_dir=settings.cache_dir, mode=settings.reader_mode,
                         passage_prior=settings.passage_prior, null_weight=settings.null_weight)
    why = "the offline default, since no QA model was configured" if settings.reader_model == "builtin" \
        else f"configured as {settings.reader_model!r}"
    log.info("reader: %s (%s; loaded in %.1f s): %r", reader.name, why, time.perf_counter() - started, reader)
    return reader


def build_pipeline(settings: Settings, *, rebuild: bool = False, allow_rebuild: bool = True,
                   show_progress: bool = True) -> "QAPipeline":
    """Embedder, index, retriever, reader and confidence policy for ``settings``, loaded once."""
    retriever, _ = build_retriever(settings, rebuild=rebuild, allow_rebuild=allow_rebuild,
                                   show_progress=show_progress)
    return pipeline_for(settings, retriever)


def pipeline_for(settings: Settings, retriever: Retriever) -> "QAPipeline":
    """Reader and confidence policy for ``settings`` around an existing ``retriever``."""
    from qa.pipeline import QAPipeline

    return QAPipeline(retriever, build_reader(settings))
