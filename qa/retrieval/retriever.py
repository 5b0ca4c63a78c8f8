"""Questions → ranked passages (Hits) from an index (embeddings.store.SearchIndex: the embedded
ChunkIndex or PostgreSQL's PgIndex): dense, BM25 or both fused.

``Hit.dense_score`` is always the cosine of question and passage (the query is embedded in
every mode, so abstention can rely on one scale). ``Hit.score`` depends on the mode:

- ``dense``: cosine similarity of question and passage, in [-1, 1] (e5: mostly 0.7-0.9).
- ``bm25``: the raw BM25 score, >= 0 and unbounded; it grows with rare shared words and
  depends on the corpus, so it is comparable only within one index.
- ``hybrid``: the fused score of qa.retrieval.fusion. For RRF it is
  ``2 * (w / (rrf_k + dense_rank) + (1 - w) / (rrf_k + bm25_rank))``: at most
  ``2 / (rrf_k + 1)`` (0.0328 for rrf_k = 60), a function of the ranks only. For the
  weighted sum it lies in [0, 1] (min-max normalised within each query's candidates).
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Iterable, Mapping

from embeddings.documents import Document
from embeddings.encoder import Embedder
from embeddings.store import SearchIndex
from embeddings.errors import QAError
from qa.types import Hit

log = logging.getLogger(__name__)

MODES = ("dense", "bm25", "hybrid")
# Fusion default: a weighted sum of min-max normalised dense and BM25 scores, dense weight
# 0.8 -- the best setting on the tuning split (XQuAD-de articles 0-39, German and English
# questions) in experiments/retrieval_modes.py. Plain RRF (k=60) hurt English questions badly
# there, since BM25 finds little for them in German text.
DEFAULT_FUSION: Mapping[str, object] = {"method": "weighted", "dense_weight": 0.8}
# Candidates each retriever contributes before fusion (as in experiments/retrieval_modes.py).
FUSION_DEPTH = 100


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise QAError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)} "
                      "(--mode or QA_RETRIEVAL_MODE)")
    return mode


def parse_date(value: str | dt.date | None, *, name: str) -> str | None:
    """An ISO date string (YYYY-MM-DD) from a string or date; QAError if it is not one."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise QAError(f"{name} {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-09-04") from None


class Retriever:
    """Dense, BM25 or hybrid retrieval over an index with the embedder it was built with."""

    def __init__(self, index: SearchIndex, embedder: Embedder, *, mode: str = "hybrid",
                 fusion: Mapping[str, object] | None = None, depth: int = FUSION_DEPTH) -> None:
        if index.manifest.dimension != embedder.dimension:
            raise QAError(f"the index has {index.manifest.dimension}-d vectors but the embedding "
                          f"model gives {embedder.dimension}-d; rebuild with: qa index --rebuild")
        check_mode(mode)
        if mode != "dense" and index.bm25 is None:
            log.warning("the index has no BM25 part, so retrieval is dense instead of %s; "
                        "rebuild it with: qa index --rebuild", mode)
            mode = "dense"
        self.index = index
        self.embedder = embedder
        self.mode = mode
        self.fusion = dict(DEFAULT_FUSION if fusion is None else fusion)
        self.depth = depth

    @property
    def documents(self) -> Mapping[str, Document]:
        return self.index.documents

    def search(self, question: str, *, k: int = 5, doc_ids: Iterable[str] | None = None,
               outlet: str | Iterable[str] | None = None, date_from: str | dt.date | None = None,
               date_to: str | dt.date | None = None) -> list[Hit]:
        """The ``k`` best chunks for ``question``, best first (rank 1).

        Filters: ``doc_ids``; ``outlet`` (one or several, case-insensitive, exact); a date
        range ``date_from``..``date_to`` (ISO dates, both ends included) over the documents'
        metadata "date" — documents without a date are left out when a date filter is given.
        """
        if not isinstance(question, str) or not question.strip():
            raise QAError("the question is empty; check it first with qa.answering.question.check_question")
        question = question.strip()
        if k < 1:
            raise QAError(f"k must be at least 1, got {k}")
        allowed_docs = self.filter_documents(doc_ids=doc_ids, outlet=outlet, date_from=date_from,
                                             date_to=date_to)
        if allowed_docs is not None and not allowed_docs:
            return []
        self._warn_if_long(question)
        vector = self.embedder.encode_queries([question])
        if self.mode == "bm25":
            results = self.index.search_bm25(question, k=k, doc_ids=allowed_docs)
            cosines = self.index.similarities(vector[0], [chunk_id for chunk_id, _ in results])
        else:
            depth = k if self.mode == "dense" else max(k, self.depth)
            dense = self.index.search(vector, k=depth, doc_ids=allowed_docs)[0]
            cosines = dict(dense)
            results = dense
            if self.mode == "hybrid":
                from qa.retrieval.fusion import fuse

                sparse = self.index.search_bm25(question, k=depth, doc_ids=allowed_docs)
                results = fuse(dense, sparse, k=k, **self.fusion)
                missing = [chunk_id for chunk_id, _ in results if chunk_id not in cosines]
                cosines.update(self.index.similarities(vector[0], missing))
        return [self._hit(chunk_id, score, rank, cosines.get(chunk_id))
                for rank, (chunk_id, score) in enumerate(results, start=1)]

    def filter_documents(self, *, doc_ids: Iterable[str] | None = None,
                         outlet: str | Iterable[str] | None = None, date_from: str | dt.date | None = None,
                         date_to: str | dt.date | None = None) -> list[str] | None:
        """The ids of the documents the filters allow, or ``None`` when there is no filter."""
        if doc_ids is None and outlet is None and date_from is None and date_to is None:
            return None
        candidates = list(self.index.documents)
        if doc_ids is not None:
            doc_ids = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids)
            unknown = sorted(set(doc_ids) - set(self.index.documents))
            if unknown:
                raise QAError(f"unknown document id(s): {', '.join(unknown)}; see qa list")
            wanted = set(doc_ids)
            candidates = [d for d in candidates if d in wanted]
        if outlet is not None:
            outlets = {o.strip().casefold() for o in ([outlet] if isinstance(outlet, str) else outlet)}
            candidates = [d for d in candidates
                          if self.index.documents[d].metadata.get("outlet", "").casefold() in outlets]
        low, high = parse_date(date_from, name="date_from"), parse_date(date_to, name="date_to")
        if low is not None and high is not None and low > high:
            raise QAError(f"the date range is empty: {low} is after {high}")
        if low is not None or high is not None:
            candidates = [d for d in candidates if _in_range(self.index.documents[d].metadata.get("date"), low, high)]
        return candidates

    def _warn_if_long(self, question: str) -> None:
        count = getattr(self.embedder, "query_tokens", None)
        if count is not None and count(question) > self.embedder.max_tokens:
            log.warning("the question has more than %d tokens; only the first %d are used",
                        self.embedder.max_tokens, self.embedder.max_tokens)

    def _hit(self, chunk_id: int, score: float, rank: int, dense_score: float | None) -> Hit:
        chunk = self.index.chunks[chunk_id]
        doc = self.index.documents.get(chunk.doc_id)
        return Hit(chunk=chunk, score=score, rank=rank,
                   title=doc.title if doc else chunk.doc_id,
                   metadata=doc.metadata if doc else {}, dense_score=dense_score)


def _in_range(date: str | None, low: str | None, high: str | None) -> bool:
    if not date:
        return False
    day = date[:10]  # ISO dates compare correctly as strings
    return (low is None or day >= low) and (high is None or day <= high)
