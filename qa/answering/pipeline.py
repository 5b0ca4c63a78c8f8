"""Retriever + reader + confidence: a question in, a Response with cited answers and a tier out."""
from __future__ import annotations

import logging
from typing import Iterable, Sequence

from embeddings.errors import QAError
from qa.answering.confidence import SUPPORT_CANDIDATES, ConfidencePolicy, evidence_features
from qa.answering.question import check_question, detect_language, resolve_followup
from qa.reading.reader import Reader
from qa.retrieval.retriever import Retriever
from qa.types import Response

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
        question = check_question(question)
        if top_n < 1:
            raise QAError(f"top_n must be at least 1, got {top_n}")
        query = question
        if history:
            query = resolve_followup(question, list(history))
        hits = self.retriever.search(query, k=k, doc_ids=doc_ids)
        evidence = self.reader.read_with_evidence(query, hits, top_n=max(top_n, SUPPORT_CANDIDATES))
        policy = self.confidence if threshold is None else self.confidence.with_threshold(threshold)
        features = evidence_features(query, hits, evidence, english=detect_language(query) == "en")
        confidence = 0.0 if features is None else policy.probability(features)
        tier = policy.tier(confidence, has_answer=features is not None)
        abstained = tier == "none"
        if abstained:
            log.debug("no answer to %r: confidence %.3f < %.3f", question, confidence, policy.none_below)
        candidates = tuple(evidence.answers[:top_n])
        return Response(question=question, answers=() if abstained else candidates,
                        hits=tuple(hits), reader=self.reader.name, abstained=abstained,
                        retrieval_query=query, confidence=confidence,
                        unmentioned=() if features is None else features.unmentioned_terms,
                        tier=tier, candidates=candidates)
