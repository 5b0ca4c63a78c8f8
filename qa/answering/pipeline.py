"""Retriever + reader + confidence: a question in, a Response with cited answers and a tier out."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Sequence

from embeddings.errors import QAError
from qa.answering.confidence import SUPPORT_CANDIDATES, ConfidencePolicy, evidence_features
from qa.answering.question import check_question, detect_language, resolve_followup
from qa.reading.reader import Reader, ReaderEvidence
from qa.retrieval.retriever import Retriever
from qa.types import Hit, Response

log = logging.getLogger(__name__)


class QAPipeline:
    """Ties a Retriever and a Reader together and grades each answer's confidence."""

    def __init__(self, retriever: Retriever, reader: Reader, *,
                 confidence: ConfidencePolicy | None = None) -> None:
        self.retriever = retriever
        self.reader = reader
        self.confidence = ConfidencePolicy() if confidence is None else confidence

    @property
    def reader_name(self) -> str:
        return self.reader.name

    def ask(self, question: str, *, k: int = 5, top_n: int = 3, doc_ids: Iterable[str] | None = None,
            history: Sequence[str] | None = None, threshold: float | None = None) -> Response:
        """Answer ``question`` from the top ``k`` passages; at most ``top_n`` answers.

        ``history`` holds the earlier questions of a conversation: an elliptic follow-up
        ("Und wann?") is resolved against them before retrieval. ``threshold`` overrides the
        "not in the articles" threshold (``ConfidencePolicy.none_below``) for this question
        (0 never abstains). The reader is asked for at least ``SUPPORT_CANDIDATES`` answers so
        the confidence sees the same evidence whatever ``top_n`` is.
        """
        return self.ask_many([Question(question, k=k, top_n=top_n, threshold=threshold, history=history,
                                       doc_ids=None if doc_ids is None else list(doc_ids))])[0]

    def ask_many(self, questions: Sequence["Question"]) -> list[Response]:
        """``ask`` for each question with its own options, the same responses as one by one:
        their passages are read in shared forward passes where the reader can (``read_many``,
        exactly the logits of reading alone); a question asked twice with the same options is
        answered once, the response shared. A bad question (QAError) fails the whole call;
        ``QASystem`` then answers the others one by one."""
        distinct: dict[tuple, Question] = {}
        for q in questions:   # the same question with the same options (an example button): read once
            distinct.setdefault(q.key, q)
        if len(distinct) < len(questions):
            responses = dict(zip(distinct, self.ask_many(list(distinct.values()))))
            return [responses[q.key] for q in questions]
        texts = [check_question(q.text) for q in questions]
        for q in questions:
            if q.top_n < 1:
                raise QAError(f"top_n must be at least 1, got {q.top_n}")
        queries = [resolve_followup(text, list(q.history)) if q.history else text
                   for text, q in zip(texts, questions)]
        # Embedded one by one: in one call, rows of a few tokens take another matrix kernel and
        # 2 of the 104 seeds_dev questions got vectors 1e-7 off (their confidence moved in the 7th
        # digit); a query embedding is ~5 % of a question's time.
        hits = [self.retriever.search(query, k=q.k, doc_ids=q.doc_ids) for query, q in zip(queries, questions)]
        wanted = [max(q.top_n, SUPPORT_CANDIDATES) for q in questions]
        read_many = getattr(self.reader, "read_many", None)
        if read_many is not None:
            evidence = read_many(queries, hits, top_n=wanted)
        else:
            evidence = [self.reader.read_with_evidence(query, question_hits, top_n=n)
                        for query, question_hits, n in zip(queries, hits, wanted)]
        return [self._respond(text, query, q, question_hits, found)
                for text, query, q, question_hits, found in zip(texts, queries, questions, hits, evidence)]

    def _respond(self, question: str, query: str, options: "Question", hits: list[Hit],
                 evidence: ReaderEvidence) -> Response:
        """Grade the confidence of what the reader found and choose what to answer."""
        policy = self.confidence if options.threshold is None else self.confidence.with_threshold(options.threshold)
        features = evidence_features(query, hits, evidence, english=detect_language(query) == "en")
        confidence = 0.0 if features is None else policy.probability(features)
        tier = policy.tier(confidence, has_answer=features is not None)
        abstained = tier == "none"
        if abstained:
            log.debug("no answer to %r: confidence %.3f < %.3f", question, confidence, policy.none_below)
        candidates = tuple(evidence.answers[:options.top_n])
        return Response(question=question, answers=() if abstained else candidates,
                        hits=tuple(hits), reader=self.reader.name, abstained=abstained,
                        retrieval_query=query, confidence=confidence,
                        unmentioned=() if features is None else features.unmentioned_terms,
                        tier=tier, candidates=candidates)


@dataclass(frozen=True, slots=True)
class Question:
    """One question of :meth:`QAPipeline.ask_many` with its own options (as ``ask`` takes them)."""

    text: str
    k: int = 5
    top_n: int = 3
    doc_ids: Sequence[str] | None = None
    history: Sequence[str] | None = None
    threshold: float | None = None

    @property
    def key(self) -> tuple:
        """Equal for two questions that get the same response."""
        return (self.text, self.k, self.top_n, None if self.doc_ids is None else tuple(self.doc_ids),
                None if self.history is None else tuple(self.history), self.threshold)
