"""The data that flows from retrieval to answers: frozen, with document offsets."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Mapping

from embeddings.chunking import Chunk


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk: its rank (1-based), score, and the document's title/metadata."""

    chunk: Chunk
    score: float
    rank: int
    title: str = ""
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # cosine similarity of question and chunk under the embedding model, whatever the
    # retrieval mode (in hybrid mode ``score`` is a fused rank score); None if not computed
    dense_score: float | None = None

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id


@dataclass(frozen=True, slots=True)
class Answer:
    """An extracted answer. ``document.text[start:end] == text`` always.

    ``score`` is in [0, 1] and comparable across passages of one question. ``sentence``
    is the sentence that holds the answer (with its document offsets); ``hit`` is the
    passage it was read from; ``reader`` names the model that produced it.
    """

    text: str
    score: float
    doc_id: str
    title: str
    start: int
    end: int
    sentence: str
    sentence_start: int
    sentence_end: int
    hit: Hit
    reader: str

    @property
    def passage_start(self) -> int:
        return self.hit.chunk.start

    @property
    def passage_end(self) -> int:
        return self.hit.chunk.end


Tier = Literal["confident", "uncertain", "none"]
TIERS: tuple[Tier, ...] = ("confident", "uncertain", "none")


@dataclass(frozen=True, slots=True)
class Response:
    """What ``QAPipeline.ask`` returns. ``answers`` is empty when the system abstains.

    ``tier`` grades the answer: ``confident``; ``uncertain`` (shown, flagged for a check of
    its source); ``none`` (not in the articles: ``abstained`` is True and ``answers`` empty).
    ``candidates`` holds what the reader found whatever the decision, so evaluation can draw
    the risk-coverage curve of ``confidence`` below the threshold too.
    """

    question: str
    answers: tuple[Answer, ...]
    hits: tuple[Hit, ...]
    reader: str
    abstained: bool
    retrieval_query: str = ""   # the text actually searched (differs for follow-ups)
    confidence: float = 0.0     # qa.answering.confidence: how likely the top answer is right (0 without one)
    # the question's names and numbers that the top answer's passage does not mention; on an
    # abstention, a reason a user can check ("the passages found do not mention Orbán")
    unmentioned: tuple[str, ...] = ()
    tier: Tier | None = None    # None: derived from ``abstained`` (confident or none)
    candidates: tuple[Answer, ...] | None = None   # None: the same as ``answers``

    def __post_init__(self) -> None:
        if self.tier is None:
            object.__setattr__(self, "tier", "none" if self.abstained else "confident")
        elif self.tier not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}, got {self.tier!r}")
        if (self.tier == "none") != bool(self.abstained):
            raise ValueError(f"tier {self.tier!r} disagrees with abstained={self.abstained}")
        if self.candidates is None:
            object.__setattr__(self, "candidates", tuple(self.answers))
