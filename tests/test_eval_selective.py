"""Selective answering: the risk-coverage curve, AURC, coverage at 90 % precision, tier shares,
the three F1s, per-group figures and the report's plot, on handmade results."""
from __future__ import annotations

import json
import random

import pytest

from qa.evaluation.metrics import (area_under_curve, breakdowns, risk_coverage_curve, selective_metrics,
                                   summarise)
from qa.evaluation.report import format_summary, render_html, risk_coverage_figure, risk_coverage_lines
from qa.evaluation.runner import QuestionResult, RunConfig


def result(qid: str, *, gold: tuple[str, ...] = ("Genf",), confidence: float | None, tier: str | None,
           candidate_f1: float | None = None, candidate: str = "Kandidat", question: str = "Wo ist es?",
           extras: dict | None = None) -> QuestionResult:
    """A graded end-to-end result; its f1_de scored as the runner scores it (refusals included)."""
    answerable = bool(gold)
    if tier == "none":
        f1_de = 0.0 if answerable else 1.0
    else:
        f1_de = (candidate_f1 or 0.0) if answerable else 0.0
    return QuestionResult(
        id=qid, question=question, answers=list(gold), gold_doc_ids=[],
        prediction="" if tier == "none" else candidate, score=None, confidence=confidence,
        abstained=tier == "none", em=0.0, f1=f1_de, em_de=0.0, f1_de=f1_de, retrieved=[],
        first_relevant_rank=None, cited=None, passage="", passage_doc_id=None, passage_start=None,
        latency_ms=1.0, extras=dict(extras or {}), tier=tier, candidate=candidate,
        candidate_f1=candidate_f1 if answerable else None)


def same_points(actual, expected) -> bool:
    """Curve points equal up to float rounding (pytest.approx does not nest)."""
    return len(actual) == len(expected) and all(
        len(a) == len(e) and all(x == pytest.approx(y) for x, y in zip(a, e)) for a, e in zip(actual, expected))


def four_questions() -> list[QuestionResult]:
    """Worked by hand below: thresholds 0.9, 0.8, 0.6, 0.3 over 3 answerable + 1 no-answer question."""
    return [
        result("a", confidence=0.9, tier="confident", candidate_f1=1.0),          # right
        result("b", gold=(), confidence=0.8, tier="confident"),                   # answers a no-answer question
        result("c", confidence=0.6, tier="uncertain", candidate_f1=0.4),          # wrong (F1 < 0.5)
        result("d", confidence=0.3, tier="none", candidate_f1=0.5),               # right at exactly 0.5, refused
    ]


def brute_force_curve(results):
    """Precision/coverage recomputed from scratch at each threshold (an independent check)."""
    answerable = [r for r in results if r.answers]
    points = []
    for t in sorted({r.confidence for r in results if r.candidate and r.confidence is not None}, reverse=True):
        given = [r for r in results if r.candidate and r.confidence is not None and r.confidence >= t]
        right = [r for r in given if r.answers and r.candidate_f1 >= 0.5]
        points.append((t, 100 * sum(1 for r in given if r.answers) / len(answerable), 100 * len(right) / len(given)))
    return points


def test_curve_aurc_and_coverage_at_90_by_hand():
    results = four_questions()
    points = risk_coverage_curve(results)
    assert same_points(points, [(0.9, 100 / 3, 100.0), (0.8, 100 / 3, 50.0),
                                (0.6, 200 / 3, 100 / 3), (0.3, 100.0, 50.0)])
    assert same_points(points, brute_force_curve(results))
    selective = selective_metrics(results)
    # 1/3 * 100 % + 0 * 50 % + 1/3 * 33.3 % + 1/3 * 50 % = 11/18 of the unit square
    assert selective["aurc"] == pytest.approx(100 * 11 / 18)
    assert selective["coverage_at_90"] == pytest.approx(100 / 3)
    assert selective["max_coverage"] == pytest.approx(100.0)
    assert selective["precision_at_max_coverage"] == pytest.approx(50.0)
    assert (selective["n"], selective["answerable"], selective["unanswerable"]) == (4, 3, 1)
    assert [p["threshold"] for p in selective["curve"]] == [0.9, 0.8, 0.6, 0.3]
    assert selective["curve"][2] == pytest.approx({"threshold": 0.6, "coverage": 200 / 3, "precision": 100 / 3})


def test_tier_shares_precision_by_tier_and_the_three_f1s():
    selective = selective_metrics(four_questions())
    third = pytest.approx(100 / 3)
    assert selective["share_by_tier"]["answerable"] == {"confident": third, "uncertain": third, "none": third}
    assert selective["share_by_tier"]["unanswerable"] == {"confident": 100.0, "uncertain": 0.0, "none": 0.0}
    assert selective["precision_by_tier"] == {"confident": 50.0, "uncertain": 0.0, "none": 100.0}
    assert selective["answers_by_tier"] == {"confident": 2, "uncertain": 1, "none": 1}
    assert selective["f1_with_refusals"] == pytest.approx(100 * (1 + 0 + 0.4 + 0) / 4)      # answers.f1_de
    assert selective["f1_uncertain_refused"] == pytest.approx(100 * (1 + 0 + 0 + 0) / 4)
    assert selective["f1_never_refuse"] == pytest.approx(100 * (1 + 0 + 0.4 + 0.5) / 4)
    # Shipped cuts: answers shown down to 0.6 (c, uncertain); confident ones down to 0.8 (b).
    assert selective["operating_points"]["shown"] == pytest.approx(
        {"threshold": 0.6, "coverage": 200 / 3, "precision": 100 / 3})
    assert selective["operating_points"]["confident"] == pytest.approx(
        {"threshold": 0.8, "coverage": 100 / 3, "precision": 50.0})
    metrics = summarise(four_questions(), RunConfig(), run={})
    assert selective["f1_with_refusals"] == pytest.approx(metrics["answers"]["f1_de"])


def test_equal_confidences_enter_together_whatever_the_order():
    results = [
        result("a", confidence=0.9, tier="confident", candidate_f1=1.0),
        result("b", confidence=0.7, tier="confident", candidate_f1=0.0),
        result("c", confidence=0.7, tier="confident", candidate_f1=1.0),
        result("d", gold=(), confidence=0.2, tier="none"),
    ]
    expected = [(0.9, 100 / 3, 100.0), (0.7, 100.0, 200 / 3), (0.2, 100.0, 50.0)]
    for ordering in (results, results[::-1], [results[2], results[0], results[3], results[1]]):
        assert same_points(risk_coverage_curve(ordering), expected)
        assert selective_metrics(ordering)["aurc"] == pytest.approx(100 / 3 + 200 / 3 * 2 / 3)


def test_no_answerable_question_has_no_coverage():
    results = [result("a", gold=(), confidence=0.5, tier="confident"),
               result("b", gold=(), confidence=0.1, tier="none", candidate="")]
    selective = selective_metrics(results)
    assert selective["aurc"] is None and selective["coverage_at_90"] is None and selective["max_coverage"] is None
    assert selective["precision_at_max_coverage"] == 0.0
    assert selective["curve"] == [{"threshold": 0.5, "coverage": None, "precision": 0.0}]
    assert selective["share_by_tier"]["answerable"] == {"confident": None, "uncertain": None, "none": None}
    assert selective["share_by_tier"]["unanswerable"]["none"] == 50.0
    assert selective["f1_never_refuse"] == 0.0 and selective["f1_with_refusals"] == 50.0
    json.dumps(selective)


def test_no_candidate_at_all_covers_nothing():
    results = [result("a", confidence=0.4, tier="none", candidate="", candidate_f1=0.0),
               result("b", confidence=None, tier="none", candidate="", candidate_f1=0.0)]   # b raised a QAError
    selective = selective_metrics(results)
    assert selective["curve"] == [] and selective["aurc"] == 0.0
    assert selective["coverage_at_90"] == 0.0 and selective["max_coverage"] == 0.0
    assert selective["precision_at_max_coverage"] is None
    assert selective["operating_points"] == {"shown": None, "confident": None}


def test_precision_never_reaching_90_gives_zero_coverage_at_90():
    results = [result("a", confidence=0.9, tier="confident", candidate_f1=0.0),
               result("b", confidence=0.5, tier="confident", candidate_f1=1.0)]
    selective = selective_metrics(results)
    assert selective["coverage_at_90"] == 0.0
    assert selective["aurc"] == pytest.approx(50 * 0 + 50 * 0.5)


def test_runs_without_tiers_have_no_selective_figures():
    results = [result("a", confidence=None, tier=None, candidate_f1=1.0)]   # reader mode: no grading
    assert selective_metrics(results) is None
    metrics = summarise(results, RunConfig(mode="reader"), run={})
    assert metrics["selective"] is None
    assert "aurc" not in metrics["breakdowns"]["question_type"]["Wo"]
    assert "AURC" not in format_summary(metrics)


def test_a_long_curve_is_downsampled_but_aurc_uses_every_point():
    rng = random.Random(3)
    results = [result(f"q{i}", confidence=i / 500, tier="confident", candidate_f1=float(rng.random() < i / 500))
               for i in range(1, 501)]
    selective = selective_metrics(results)
    full = risk_coverage_curve(results)
    assert len(full) == 500 and len(selective["curve"]) == 101
    assert selective["curve"][0]["threshold"] == full[0][0] and selective["curve"][-1]["threshold"] == full[-1][0]
    assert selective["aurc"] == pytest.approx(area_under_curve(full))
    assert selective["max_coverage"] == 100.0


def test_breakdown_groups_carry_selective_figures_per_language_and_field():
    results = four_questions()
    results = [r.__class__(**{**{f: getattr(r, f) for f in r.__dataclass_fields__},
                              "extras": {"lang": "de", "paraphrase": r.id in "ab"}}) for r in results]
    english = [result("e1", confidence=0.95, tier="confident", candidate_f1=1.0, extras={"lang": "en", "paraphrase": False}),
               result("e2", confidence=0.2, tier="none", candidate_f1=0.0, extras={"lang": "en", "paraphrase": True})]
    groups = breakdowns(results + english, depth=5)
    de, en = groups["lang"]["de"], groups["lang"]["en"]
    assert de["aurc"] == pytest.approx(100 * 11 / 18) and de["coverage_at_90"] == pytest.approx(100 / 3)
    assert (de["tier_confident"], de["tier_uncertain"], de["tier_none"]) == (50.0, 25.0, 25.0)
    assert de["share_by_tier"]["unanswerable"]["confident"] == 100.0
    assert en["aurc"] == pytest.approx(50 + 50 * 0.5) and en["coverage_at_90"] == 50.0 and en["tier_none"] == 50.0
    assert groups["paraphrase"]["True"]["n"] == 3 and "aurc" in groups["paraphrase"]["True"]
    assert "language" not in groups           # the lang field already gives the languages


def test_without_a_lang_field_the_language_comes_from_the_question():
    results = [result("de", confidence=0.9, tier="confident", candidate_f1=1.0, question="Wo finden die Gespräche statt?"),
               result("en", confidence=0.8, tier="uncertain", candidate_f1=0.0, question="Where do the talks take place?")]
    groups = breakdowns(results, depth=5)
    assert set(groups["language"]) == {"de", "en"}
    assert groups["language"]["en"]["aurc"] == 0.0 and groups["language"]["en"]["tier_uncertain"] == 100.0
    assert groups["language"]["de"]["aurc"] == 100.0


def test_summary_shows_the_selective_section():
    metrics = summarise(four_questions(), RunConfig(), run={"dataset_name": "hand"})
    text = format_summary(metrics)
    assert "AURC" in text and f"{100 * 11 / 18:.1f}" in text
    assert "coverage at 90 % precision" in text and "33.3 %" in text
    assert "33.3 / 33.3 / 33.3 %" in text        # answerable tiers
    assert "100.0 / 0.0 / 0.0 %" in text         # no-answer tiers
    assert "never refuse" in text and "47.5" in text
    assert "share_by_tier" not in text           # nested group figures are not table columns


def test_report_draws_the_risk_coverage_plot_with_a_line_per_language_and_paraphrase():
    results = [
        result("a", confidence=0.9, tier="confident", candidate_f1=1.0, extras={"lang": "de", "paraphrase": True}),
        result("b", confidence=0.6, tier="uncertain", candidate_f1=0.0, extras={"lang": "de", "paraphrase": False}),
        result("c", confidence=0.4, tier="none", candidate_f1=1.0, extras={"lang": "en", "paraphrase": False}),
        result("d", gold=(), confidence=0.7, tier="confident", extras={"lang": "en", "paraphrase": True}),
    ]
    lines = risk_coverage_lines(results)
    assert list(lines) == ["all questions", "lang=de", "lang=en", "paraphrase=False", "paraphrase=True"]
    assert lines["lang=en"][0] == 2 and same_points(lines["lang=en"][1], [(0.7, 0.0, 0.0), (0.4, 100.0, 50.0)])
    metrics = summarise(results, RunConfig(), run={"dataset_name": "hand"})
    figure = risk_coverage_figure(metrics, results)
    axes = figure.axes[0]
    labels = [line.get_label() for line in axes.get_lines()]
    shown = next(line for line in axes.get_lines() if line.get_label().startswith("shipped: confident + uncertain"))
    op = metrics["selective"]["operating_points"]["shown"]
    assert list(shown.get_xdata()) == [op["coverage"]] and list(shown.get_ydata()) == [op["precision"]]
    assert any(label.startswith("shipped: confident only") for label in labels)
    assert axes.get_xlabel().startswith("coverage") and axes.get_ylabel().startswith("precision")
    page = render_html(metrics, results)
    assert 'alt="risk-coverage"' in page and "f1_never_refuse" in page


def test_no_plot_without_tiers():
    results = [result("a", confidence=None, tier=None, candidate_f1=1.0)]
    metrics = summarise(results, RunConfig(mode="reader"), run={})
    assert risk_coverage_figure(metrics, results) is None
    assert 'alt="risk-coverage"' not in render_html(metrics, results)
