"""Per-question results in, the figures of metrics.json out.

Scales: EM, F1, recall@n and abstention shares are percentages (0-100, as SQuAD reports
them); MRR and nDCG are in [0, 1]; latency in milliseconds. A figure that a run cannot
measure (recall@10 from 5 retrieved passages, EM in retrieval mode) is ``None``.
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterable, Sequence

import numpy as np

from qa.evaluation.runner import QuestionResult, RunConfig

RECALL_AT = (1, 5, 10)
MAX_BREAKDOWN_VALUES = 20  # an extra field with more distinct values (ids, titles) is not a breakdown

# Question words, checked at the first interrogative of the question ("In welchem Jahr" → Welche).
_GERMAN_WORDS = {
    "wer": "Wer", "wen": "Wer", "wem": "Wer", "wessen": "Wer",
    "wann": "Wann", "wieviele": "Wie viele", "wieviel": "Wie viele",
    "wo": "Wo", "woher": "Wo", "wohin": "Wo",
    "welche": "Welche", "welcher": "Welche", "welches": "Welche", "welchen": "Welche", "welchem": "Welche",
    "was": "Was", "warum": "Warum", "weshalb": "Warum", "wieso": "Warum", "wozu": "Warum",
    # wo + preposition ("Wofür", "Worüber", "Wodurch") asks for a thing: a "Was" question.
    **{w: "Was" for w in ("wofür", "worüber", "worauf", "wodurch", "wovon", "wonach", "wogegen", "womit",
                          "woran", "worin", "woraus", "worum", "wovor", "wobei")},
}
_ENGLISH_VOTES = set("""the of is are was were did does do to and a an for by on with has have had that from
many much what who whom whose when where which why how it its their his her this be been at as or not can
would could after during most""".split())
_GERMAN_VOTES = set("""der die das und ist war wurde wurden werden wird von mit den dem des ein eine einer einen
einem eines sind hat haben hatte im zu zum zur für auf nach sich nicht es er sie sein seine ihre ihr wenn als
bei aus auch wie wer wann wo welche welcher welches welchen welchem warum vom am um über durch gegen viele
man noch""".split()) | set(_GERMAN_WORDS)
QUESTION_TYPES = ("Wer", "Wann", "Wo", "Wie viele", "Welche", "Was", "Warum", "Wie", "other German", "English")


def question_type(question: str, *, lang: object = None) -> str:
    """The question-word bucket of ``question``: a German word, "other German" or "English".

    The language is a vote of common function words (a ``lang`` extra field overrides it);
    a German question is bucketed by its first interrogative.
    """
    words = re.findall(r"\w+", question.lower())
    english = sum(w in _ENGLISH_VOTES for w in words)
    german = sum(w in _GERMAN_VOTES for w in words)
    if lang == "en" or (lang != "de" and english > german):
        return "English"
    for position, word in enumerate(words):
        if word == "wie":
            following = words[position + 1] if position + 1 < len(words) else ""
            return "Wie viele" if following in {"viele", "viel", "vielen"} else "Wie"
        if word in _GERMAN_WORDS:
            return _GERMAN_WORDS[word]
    return "other German"


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return None if not values else float(np.mean(values))


def _percent(values: Iterable[float]) -> float | None:
    mean = _mean(values)
    return None if mean is None else 100.0 * mean


def answer_metrics(results: Sequence[QuestionResult]) -> dict[str, Any] | None:
    """EM/F1 (both normalisations) over the questions with answer spans."""
    scored = [r for r in results if r.em is not None]
    if not scored:
        return None
    return {
        "n": len(scored),
        "em": _percent(r.em for r in scored),
        "f1": _percent(r.f1 for r in scored),
        "em_de": _percent(r.em_de for r in scored),
        "f1_de": _percent(r.f1_de for r in scored),
    }


def retrieval_metrics(results: Sequence[QuestionResult], *, depth: int, relevance: str) -> dict[str, Any] | None:
    """recall@n (share with a relevant passage in the top n), MRR@5/@10, nDCG@10 (document relevance)."""
    # No-answer questions have nothing to find; answerable and qrels questions (answers None) do.
    judged = [r for r in results if r.answers != []]
    if not judged:
        return None
    ranks = [r.first_relevant_rank for r in judged]
    out: dict[str, Any] = {"n": len(judged), "depth": depth, "relevance": relevance}
    for n in RECALL_AT:
        out[f"recall@{n}"] = None if n > depth else _percent(rank is not None and rank <= n for rank in ranks)
    if depth not in RECALL_AT:   # the product's k (say 3) in end-to-end runs
        out[f"recall@{depth}"] = _percent(rank is not None for rank in ranks)
    for n in (5, 10):
        out[f"mrr@{n}"] = None if n > depth else _mean(0.0 if rank is None or rank > n else 1.0 / rank for rank in ranks)
    out["ndcg@10"] = None
    if relevance == "document" and depth >= 10:
        out["ndcg@10"] = _mean(_ndcg(r, 10) for r in judged)
    return out


def _ndcg(result: QuestionResult, n: int) -> float:
    """Binary-relevance nDCG over documents: a document's first chunk earns its gain, repeats none."""
    seen: set[str] = set()
    dcg = 0.0
    for position, chunk in enumerate(result.retrieved[:n], start=1):
        if chunk.relevant and chunk.doc_id not in seen:
            seen.add(chunk.doc_id)
            dcg += 1.0 / math.log2(position + 1)
    relevant_docs = max(1, len(result.gold_doc_ids))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(relevant_docs, n)))
    return dcg / ideal


def abstention_metrics(results: Sequence[QuestionResult]) -> dict[str, Any] | None:
    judged = [r for r in results if r.abstained is not None and r.answers is not None]
    if not judged:
        return None
    no_answer = [r for r in judged if not r.answers]
    answerable = [r for r in judged if r.answers]
    return {
        "no_answer_questions": len(no_answer),
        "correctly_abstained": _percent(r.abstained for r in no_answer),
        "answerable_questions": len(answerable),
        "wrongly_abstained": _percent(r.abstained for r in answerable),
    }


def latency_metrics(results: Sequence[QuestionResult]) -> dict[str, Any]:
    values = np.array([r.latency_ms for r in results], dtype=np.float64)
    if not len(values):
        return {"p50": None, "p95": None, "max": None, "mean": None}
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95)),
            "max": float(values.max()), "mean": float(values.mean())}


def group_metrics(results: Sequence[QuestionResult], *, depth: int) -> dict[str, Any]:
    """The few figures shown per breakdown group."""
    out: dict[str, Any] = {"n": len(results)}
    answers = answer_metrics(results)
    if answers is not None:
        out.update({key: answers[key] for key in ("em", "f1", "em_de", "f1_de")})
    abstained = [r.abstained for r in results if r.abstained is not None]
    if abstained:
        out["abstained"] = _percent(abstained)
    ranks = [r.first_relevant_rank for r in results if r.answers != [] and r.retrieved]
    if ranks:
        out[f"recall@{min(5, depth)}"] = _percent(rank is not None and rank <= min(5, depth) for rank in ranks)
    return out


def breakdowns(results: Sequence[QuestionResult], *, depth: int) -> dict[str, dict[str, Any]]:
    """By question word, by answerable/no-answer, and by every extra field with few string values."""
    groups: dict[str, dict[str, list[QuestionResult]]] = {"question_type": {}}
    for r in results:
        groups["question_type"].setdefault(question_type(r.question, lang=r.extras.get("lang")), []).append(r)
    if any(r.answers == [] for r in results) and any(r.answers for r in results):
        groups["answerable"] = {}
        for r in results:
            groups["answerable"].setdefault("answerable" if r.answers else "no answer", []).append(r)
    fields = sorted({k for r in results for k, v in r.extras.items()
                     if not k.startswith("_") and isinstance(v, (str, bool))})
    for name in fields:
        values: dict[str, list[QuestionResult]] = {}
        for r in results:
            value = r.extras.get(name)
            values.setdefault("(none)" if value is None else str(value), []).append(r)
        if 1 < len(values) <= MAX_BREAKDOWN_VALUES:
            groups[name] = values
    order = {name: i for i, name in enumerate(QUESTION_TYPES)}
    return {
        field_name: {
            value: group_metrics(members, depth=depth)
            for value, members in sorted(values.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
        }
        for field_name, values in groups.items()
    }


def summarise(results: Sequence[QuestionResult], config: RunConfig, *, run: dict[str, Any]) -> dict[str, Any]:
    """The whole metrics.json object; ``run`` describes what was run (dataset, system, flags)."""
    return {
        "run": {**run, "mode": config.mode, "k": config.k, "top_n": config.top_n, "questions": len(results),
                "errors": sum(r.error is not None for r in results)},
        "answers": answer_metrics(results),
        "retrieval": None if config.mode == "reader" else retrieval_metrics(
            results, depth=config.depth, relevance=config.relevance),
        "abstention": abstention_metrics(results),
        "latency_ms": latency_metrics(results),
        "breakdowns": breakdowns(results, depth=config.depth),
    }
