"""Questions → ranked passages (Hits) from a ChunkIndex, with titles and metadata attached."""
from __future__ import annotations

import logging
from typing import Iterable, Mapping

from embeddings.documents import Document
from embeddings.encoder import Embedder
from embeddings.store import ChunkIndex
from qa.errors import QAError
from qa.types import Hit

log = logging.getLogger(__name__)


def check_question(question: object) -> str:
    """The question, stripped; a QAError for anything that is not a non-empty string."""
    if not isinstance(question, str):
        raise QAError(f"a question must be text, not {type(question).__name__}")
    stripped = question.strip()
    if not stripped:
        raise QAError("the question is empty: type a question, e.g. "
                      "\"Wo finden die Gespräche der USA mit Russland statt?\"")
    return stripped


class Retriever:
    """Dense retrieval over a ChunkIndex with the embedder it was built with."""

    def __init__(self, index: ChunkIndex, embedder: Embedder) -> None:
        if index.manifest.dimension != embedder.dimension:
            raise QAError(f"the index has {index.manifest.dimension}-d vectors but the embedding "
                          f"model gives {embedder.dimension}-d; rebuild with: qa index --rebuild")
        self.index = index
        self.embedder = embedder
        self.mode = "dense"

    @property
    def documents(self) -> Mapping[str, Document]:
        return self.index.documents

    def search(self, question: str, *, k: int = 5, doc_ids: Iterable[str] | None = None) -> list[Hit]:
        """The ``k`` best chunks for ``question``, best first (rank 1), optionally in ``doc_ids``."""
        question = check_question(question)
        if k < 1:
            raise QAError(f"k must be at least 1, got {k}")
        if doc_ids is not None:
            doc_ids = list(doc_ids)
            unknown = sorted(set(doc_ids) - set(self.index.documents))
            if unknown:
                raise QAError(f"unknown document id(s): {', '.join(unknown)}; see qa list")
        count = getattr(self.embedder, "query_tokens", None)
        if count is not None and count(question) > self.embedder.max_tokens:
            log.warning("the question has more than %d tokens; only the first %d are used",
                        self.embedder.max_tokens, self.embedder.max_tokens)
        vector = self.embedder.encode_queries([question])
        results = self.index.search(vector, k=k, doc_ids=doc_ids)[0]
        return [self._hit(chunk_id, score, rank) for rank, (chunk_id, score) in enumerate(results, start=1)]

    def _hit(self, chunk_id: int, score: float, rank: int) -> Hit:
        chunk = self.index.chunks[chunk_id]
        doc = self.index.documents.get(chunk.doc_id)
        return Hit(chunk=chunk, score=score, rank=rank,
                   title=doc.title if doc else chunk.doc_id,
                   metadata=doc.metadata if doc else {})
