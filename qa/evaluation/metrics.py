"""Per-question results in, the figures of metrics.json out.

Scales: EM, F1, recall@n, abstention and tier shares, and the selective figures (precision,
coverage, AURC) are percentages (0-100, as SQuAD reports them); MRR and nDCG and confidence
thresholds are in [0, 1]; latency in milliseconds. A figure that a run cannot measure
(recall@10 from 5 retrieved passages, EM in retrieval mode, a risk-coverage curve without
confidences) is ``None``.
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterable, Sequence

import numpy as np

from qa.evaluation.runner import QuestionResult, RunConfig
from qa.types import TIERS

RECALL_AT = (1, 5, 10)
MAX_BREAKDOWN_VALUES = 20  # an extra field with more distinct values (ids, titles) is not a breakdown
# Free text and references, never categories, however few their values in a small set.
NOT_BREAKDOWNS = frozenset({"note", "source_id", "doc_id", "question", "id", "answer"})
RIGHT_F1 = 0.5          # an answer is right when its German-normalised F1 reaches this (Kamath et al.)
TARGET_PRECISION = 90   # coverage_at_90: the most coverage at this precision (percent) or more
CURVE_POINTS = 101      # metrics.json keeps at most this many points of the curve

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


# ---------------------------------------------------------------------------------------
# Selective answering: how precision trades against coverage as the confidence threshold moves

def is_right(result: QuestionResult) -> bool:
    """Whether the candidate would be a right answer: answerable and F1 (German) >= RIGHT_F1."""
    return bool(result.answers) and result.candidate_f1 is not None and result.candidate_f1 >= RIGHT_F1


def _offers_answer(result: QuestionResult) -> bool:
    return bool(result.candidate) and result.confidence is not None


def selective_rows(results: Sequence[QuestionResult]) -> list[QuestionResult]:
    """The questions a risk-coverage curve is over: graded by the pipeline, with known gold."""
    return [r for r in results if r.tier is not None and r.answers is not None]


def risk_coverage_curve(results: Sequence[QuestionResult]) -> list[tuple[float, float | None, float]]:
    """``(threshold, coverage, precision)`` at every distinct confidence, highest first.

    At threshold t the system answers every question that has a candidate with confidence
    >= t (equal confidences enter together). Coverage: answered answerable questions over all
    answerable ones (None without answerable questions); precision: right answers over all
    answers given, an answer to an unanswerable question being wrong. Both in percent.
    """
    rows = selective_rows(results)
    answerable = sum(1 for r in rows if r.answers)
    offered = sorted((r for r in rows if _offers_answer(r)), key=lambda r: -r.confidence)
    points: list[tuple[float, float | None, float]] = []
    given = right = covered = 0
    for position, r in enumerate(offered):
        given += 1
        right += is_right(r)
        covered += bool(r.answers)
        if position + 1 < len(offered) and offered[position + 1].confidence == r.confidence:
            continue   # a tie: the next question enters at the same threshold
        points.append((float(r.confidence), 100.0 * covered / answerable if answerable else None,
                       100.0 * right / given))
    return points


def area_under_curve(points: Sequence[tuple[float, float | None, float]]) -> float | None:
    """AURC: the step-wise integral of precision over coverage from 0 to the curve's largest
    coverage, each point's precision held over the coverage it adds, as in average precision:
    sum_i (coverage_i - coverage_{i-1}) * precision_i / 100, with coverage_0 = 0.

    In percent of the unit square: 100 means every answerable question answered right before
    any wrong answer; coverage the system never reaches (no candidate) adds nothing. Higher is
    better (Kamath et al.'s risk-coverage AUC, lower is better, is over risk = 1 - precision).
    No points (no candidate at all) is 0; no answerable question (coverage None) is None.
    """
    if not points:
        return 0.0
    if points[0][1] is None:
        return None
    area, previous = 0.0, 0.0
    for _, coverage, precision in points:
        area += (coverage - previous) * precision / 100.0
        previous = coverage
    return area


def coverage_at_precision(points: Sequence[tuple[float, float | None, float]], *,
                          precision: float = TARGET_PRECISION) -> float | None:
    """The largest coverage at which precision is at least ``precision`` percent; 0 if none."""
    if points and points[0][1] is None:
        return None
    # A hair of tolerance: 9 right of 10 is 90 % however the division rounds.
    return max((c for _, c, p in points if p >= precision - 1e-9), default=0.0)


def downsample(points: Sequence[Any], limit: int = CURVE_POINTS) -> list[Any]:
    """At most ``limit`` points, evenly spaced by position, first and last kept."""
    if len(points) <= limit:
        return list(points)
    positions = np.unique(np.round(np.linspace(0, len(points) - 1, limit)).astype(int))
    return [points[i] for i in positions]


def operating_points(results: Sequence[QuestionResult],
                     points: Sequence[tuple[float, float | None, float]]) -> dict[str, Any]:
    """Where the shipped tiers cut the curve: ``shown`` (confident and uncertain answers) and
    ``confident``, each at the lowest confidence among the answers given in those tiers.

    An approximation where a tier is not a pure confidence threshold (a question refused for
    another reason with a higher confidence is counted as answered there).
    """
    by_threshold = {t: (c, p) for t, c, p in points}
    out: dict[str, Any] = {}
    for name, tiers in (("shown", ("confident", "uncertain")), ("confident", ("confident",))):
        confidences = [r.confidence for r in selective_rows(results) if r.tier in tiers and _offers_answer(r)]
        if not confidences:
            out[name] = None
            continue
        threshold = float(min(confidences))
        coverage, precision = by_threshold[threshold]
        out[name] = {"threshold": threshold, "coverage": coverage, "precision": precision}
    return out


def _share(members: Sequence[QuestionResult], tier: str) -> float | None:
    return _percent(r.tier == tier for r in members)


def _f1_if_refused(r: QuestionResult) -> float:
    """A refusal's F1 as answers.f1_de scores it: right only on an unanswerable question."""
    return 0.0 if r.answers else 1.0


def _f1_if_answered(r: QuestionResult) -> float:
    """The candidate's F1 (German) had it been shown; any answer to an unanswerable question is 0."""
    return (r.candidate_f1 or 0.0) if r.answers else 0.0


def selective_metrics(results: Sequence[QuestionResult]) -> dict[str, Any] | None:
    """The ``selective`` object of metrics.json; ``None`` when no question carries a tier
    (reader and retrieval modes, old runs)."""
    rows = selective_rows(results)
    if not rows:
        return None
    answerable = [r for r in rows if r.answers]
    unanswerable = [r for r in rows if not r.answers]
    points = risk_coverage_curve(rows)
    offered = [r for r in rows if _offers_answer(r)]
    return {
        "n": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "aurc": area_under_curve(points) if answerable else None,
        "coverage_at_90": coverage_at_precision(points) if answerable else None,
        "max_coverage": None if not answerable else points[-1][1] if points else 0.0,
        "precision_at_max_coverage": points[-1][2] if points else None,
        "share_by_tier": {
            "answerable": {tier: _share(answerable, tier) for tier in TIERS},
            "unanswerable": {tier: _share(unanswerable, tier) for tier in TIERS},
        },
        # For each tier, the share of its candidates that are right ("none": what refusing lost).
        "precision_by_tier": {tier: _percent(is_right(r) for r in offered if r.tier == tier) for tier in TIERS},
        "answers_by_tier": {tier: sum(1 for r in offered if r.tier == tier) for tier in TIERS},
        # F1 (German normalisation) three ways: as shipped (uncertain answers shown, "none"
        # refused: answers.f1_de), as if uncertain answers were refused too, and never refusing.
        "f1_with_refusals": _percent(r.f1_de for r in rows),
        "f1_uncertain_refused": _percent(r.f1_de if r.tier == "confident" else _f1_if_refused(r) for r in rows),
        "f1_never_refuse": _percent(_f1_if_answered(r) for r in rows),
        "operating_points": operating_points(rows, points),
        "curve": [{"threshold": t, "coverage": c, "precision": p} for t, c, p in downsample(points)],
    }


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
    selective = selective_metrics(results)
    if selective is not None:
        out["aurc"] = selective["aurc"]
        out["coverage_at_90"] = selective["coverage_at_90"]
        rows = selective_rows(results)
        out.update({f"tier_{tier}": _share(rows, tier) for tier in TIERS})
        out["share_by_tier"] = selective["share_by_tier"]   # split by answerability; not a table column
    return out


def language_of(result: QuestionResult) -> str:
    """The question's language: its ``lang`` field, else "en" for the English bucket, else "de"."""
    lang = result.extras.get("lang")
    if isinstance(lang, str) and lang:
        return lang
    return "en" if question_type(result.question) == "English" else "de"


def breakdowns(results: Sequence[QuestionResult], *, depth: int) -> dict[str, dict[str, Any]]:
    """By question word, by answerable/no-answer, by language (when no ``lang`` field gives it),
    and by every extra field with few string values."""
    groups: dict[str, dict[str, list[QuestionResult]]] = {"question_type": {}}
    for r in results:
        groups["question_type"].setdefault(question_type(r.question, lang=r.extras.get("lang")), []).append(r)
    if any(r.answers == [] for r in results) and any(r.answers for r in results):
        groups["answerable"] = {}
        for r in results:
            groups["answerable"].setdefault("answerable" if r.answers else "no answer", []).append(r)
    if not any("lang" in r.extras for r in results):
        languages: dict[str, list[QuestionResult]] = {}
        for r in results:
            languages.setdefault(language_of(r), []).append(r)
        if len(languages) > 1:
            groups["language"] = languages
    fields = sorted({k for r in results for k, v in r.extras.items()
                     if not k.startswith("_") and k not in NOT_BREAKDOWNS and isinstance(v, (str, bool))})
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
        "selective": selective_metrics(results),
        "latency_ms": latency_metrics(results),
        "breakdowns": breakdowns(results, depth=config.depth),
    }
