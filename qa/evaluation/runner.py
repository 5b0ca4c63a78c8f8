"""Ask the system every question of a dataset and record what happened, one result each.

Three modes: ``end-to-end`` (``pipeline.ask``), ``reader`` (``reader.read`` on the gold
context as a single passage) and ``retrieval`` (``retriever.search`` only). The runner
knows the system only through those three calls, so tests drive it with fakes.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Sequence

from tqdm import tqdm

from embeddings.chunking import Chunk
from embeddings.errors import QAError
from qa.evaluation.datasets import EvalDataset, EvalQuestion
from qa.evaluation.scoring import normalize_answer, score_answer
from qa.types import Answer, Hit, Response

Mode = Literal["end-to-end", "reader", "retrieval"]
MODES: tuple[Mode, ...] = ("end-to-end", "reader", "retrieval")
log = logging.getLogger(__name__)

RETRIEVAL_DEPTH = 10  # retrieval mode always fetches at least this many, for recall@10 / MRR@10


class Searcher(Protocol):
    def search(self, question: str, *, k: int = 5, doc_ids: Sequence[str] | None = None) -> list[Hit]: ...


class PassageReader(Protocol):
    def read(self, question: str, hits: Sequence[Hit], *, top_n: int = 3,
             max_answer_tokens: int = 30) -> list[Answer]: ...


class Asker(Protocol):
    def ask(self, question: str, *, k: int = 5, top_n: int = 3, doc_ids: Sequence[str] | None = None,
            history: Any = None) -> Response: ...


@dataclass(frozen=True, slots=True)
class RetrievedChunk:
    doc_id: str
    start: int
    end: int
    score: float
    rank: int
    relevant: bool | None


@dataclass(frozen=True, slots=True)
class Citation:
    doc_id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class QuestionResult:
    """One line of predictions.jsonl. EM/F1 are in [0, 1]; ``None`` where not measured."""

    id: str
    question: str
    answers: list[str] | None
    gold_doc_ids: list[str]
    prediction: str
    score: float | None
    confidence: float | None    # the pipeline's abstention confidence (end-to-end only)
    abstained: bool | None
    em: float | None
    f1: float | None
    em_de: float | None
    f1_de: float | None
    retrieved: list[RetrievedChunk]
    first_relevant_rank: int | None
    cited: Citation | None
    passage: str            # the passage the system read the answer from (or its top passage)
    passage_doc_id: str | None
    passage_start: int | None
    latency_ms: float
    extras: dict[str, Any] = field(default_factory=dict)
    error: str | None = None    # the system's QAError for this question, if it raised one
    # The pipeline's grade ("confident", "uncertain": shown but flagged, "none": refused);
    # None outside end-to-end mode and in runs written before tiers existed.
    tier: str | None = None
    # The reader's top span whatever the decision (so a refusal's would-be answer is kept for
    # the risk-coverage curve), and its German-normalised F1; None without gold spans.
    candidate: str = ""
    candidate_f1: float | None = None


@dataclass(frozen=True, slots=True)
class RunConfig:
    mode: Mode = "end-to-end"
    k: int = 5
    top_n: int = 1
    # "document": a hit is a chunk of the question's gold document (dataset corpora, qrels);
    # "answer": a hit is a chunk that contains a gold answer string (any other corpus).
    relevance: Literal["document", "answer"] = "answer"

    @property
    def depth(self) -> int:
        """How many passages are retrieved per question."""
        return max(self.k, RETRIEVAL_DEPTH) if self.mode == "retrieval" else self.k


def contains_answer(text: str, answer: str) -> bool:
    """Whether ``answer`` occurs in ``text`` as whole tokens, after MLQA-style normalisation."""
    needle = normalize_answer(answer, normalisation="de")
    if not needle:
        return answer.strip().lower() in text.lower()
    return f" {needle} " in f" {normalize_answer(text, normalisation='de')} "


def is_relevant(hit: Hit, question: EvalQuestion, *, relevance: str) -> bool | None:
    """Whether a hit counts for retrieval metrics; ``None`` when the question has no gold."""
    if relevance == "document" and question.gold_doc_ids:
        return hit.chunk.doc_id in question.gold_doc_ids
    if question.answers:
        return any(contains_answer(hit.chunk.text, a) for a in question.answers)
    return None


def gold_passage_hit(question: EvalQuestion) -> Hit:
    """The gold context as one passage covering the whole document (reader mode)."""
    context = question.context or ""
    chunk = Chunk(doc_id=question.context_id or question.id, start=0, end=len(context), text=context,
                  sentences=((0, len(context)),) if context else ())
    return Hit(chunk=chunk, score=1.0, rank=1, title=str(question.extras.get("article", "")))


def check_runnable(dataset: EvalDataset, config: RunConfig) -> None:
    """Refuse, before anything runs, a mode the dataset cannot support."""
    if config.mode not in MODES:
        raise QAError(f"unknown mode {config.mode!r}; use one of {', '.join(MODES)}")
    if config.k < 1 or config.top_n < 1:
        raise QAError(f"--k ({config.k}) and --top-n ({config.top_n}) must be at least 1")
    if config.mode != "retrieval" and not dataset.has_answer_spans:
        raise QAError(f"{dataset.path}: this {dataset.format} set has no answer spans; use --mode retrieval")
    if config.mode == "reader":
        missing = [q.id for q in dataset.questions if not q.context]
        if missing:
            raise QAError(
                f"{dataset.path}: --mode reader needs each question's gold context; "
                f"{len(missing)} question(s) have none (first: {missing[0]!r})"
            )


def evaluate(
    dataset: EvalDataset,
    config: RunConfig,
    *,
    pipeline: Asker | None = None,
    reader: PassageReader | None = None,
    retriever: Searcher | None = None,
    progress: bool | None = None,
) -> list[QuestionResult]:
    """Run every question of ``dataset`` through the part of the system ``config.mode`` names.

    ``progress=None`` shows a tqdm bar only on a terminal.
    """
    check_runnable(dataset, config)
    needed = {"end-to-end": pipeline, "reader": reader, "retrieval": retriever}[config.mode]
    if needed is None:
        raise ValueError(f"mode {config.mode!r} needs its component (pipeline/reader/retriever)")
    results = []
    bar = tqdm(dataset.questions, desc=f"eval {config.mode}", unit="q",
               disable=None if progress is None else not progress)
    for question in bar:
        results.append(_run_one(question, config, pipeline=pipeline, reader=reader, retriever=retriever))
    return results


def _run_one(question: EvalQuestion, config: RunConfig, *, pipeline, reader, retriever) -> QuestionResult:
    started = time.perf_counter()
    error = None
    confidence = None
    tier = None
    candidates: tuple[Answer, ...] = ()
    try:
        if config.mode == "end-to-end":
            response = pipeline.ask(question.question, k=config.k, top_n=config.top_n)
            hits, answers = tuple(response.hits), tuple(response.answers)
            abstained: bool | None = bool(response.abstained or not answers)
            confidence = getattr(response, "confidence", None)
            tier = response_tier(response, abstained=bool(abstained))
            found = getattr(response, "candidates", None)
            candidates = answers if found is None else tuple(found)
        elif config.mode == "reader":
            hits = (gold_passage_hit(question),)
            answers = tuple(reader.read(question.question, list(hits), top_n=config.top_n))
            abstained = not answers
            candidates = answers
        else:
            hits = tuple(retriever.search(question.question, k=config.depth))
            answers, abstained = (), None
    except QAError as problem:
        # One unanswerable input (say, an over-long question) must not end a long run: it is
        # scored as "no answer" and named in the log and in predictions.jsonl.
        log.warning("question %s: %s; scored as no answer", question.id, problem)
        error = str(problem)
        hits, answers, abstained = (), (), None if config.mode == "retrieval" else True
        tier = "none" if config.mode == "end-to-end" else None
        candidates = ()
    latency_ms = (time.perf_counter() - started) * 1000.0

    best = answers[0] if answers else None
    prediction = best.text if best is not None and not abstained else ""
    if config.mode == "retrieval" or question.answers is None:
        em = f1 = em_de = f1_de = None
    else:
        s = score_answer(prediction, question.answers, abstained=bool(abstained))
        em, f1, em_de, f1_de = s.em, s.f1, s.em_de, s.f1_de
    candidate = candidates[0].text if candidates else ""
    candidate_f1 = None
    if config.mode != "retrieval" and question.answers:
        # What answering would have scored: no candidate at all is a wrong answer (0).
        candidate_f1 = score_answer(candidate, question.answers, abstained=not candidate).f1_de

    retrieved = []
    first_relevant = None
    if config.mode != "reader":
        for position, hit in enumerate(hits, start=1):
            relevant = is_relevant(hit, question, relevance=config.relevance)
            if relevant and first_relevant is None:
                first_relevant = position
            retrieved.append(RetrievedChunk(hit.chunk.doc_id, hit.chunk.start, hit.chunk.end,
                                            float(hit.score), position, relevant))
    read_from = best.hit if best is not None else (hits[0] if hits else None)
    return QuestionResult(
        id=question.id, question=question.question,
        answers=None if question.answers is None else list(question.answers),
        gold_doc_ids=list(question.gold_doc_ids),
        prediction=prediction, score=None if best is None else float(best.score),
        confidence=None if confidence is None else float(confidence), abstained=abstained,
        em=em, f1=f1, em_de=em_de, f1_de=f1_de,
        retrieved=retrieved, first_relevant_rank=first_relevant,
        cited=None if best is None or abstained else Citation(best.doc_id, best.start, best.end),
        passage="" if read_from is None else read_from.chunk.text,
        passage_doc_id=None if read_from is None else read_from.chunk.doc_id,
        passage_start=None if read_from is None else read_from.chunk.start,
        latency_ms=latency_ms, extras=dict(question.extras), error=error,
        tier=tier, candidate=candidate, candidate_f1=candidate_f1,
    )


def response_tier(response: Any, *, abstained: bool) -> str:
    """The response's tier, or the one its abstention implies (fakes and older pipelines have
    none); a response with no answers is "none" whatever it claims."""
    if abstained:
        return "none"
    tier = getattr(response, "tier", None)
    return "confident" if tier is None or tier == "none" else str(tier)
