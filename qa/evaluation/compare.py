"""Two run folders in: metric deltas, the questions whose outcome changed, and those whose
tier (confident / uncertain / none) changed."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from qa.evaluation.report import flat_figures, format_value, text_table

# "selective" is nested (tier shares per answerability, operating points): flattened with dots;
# its curve is a list and is not compared point by point.
COMPARED_GROUPS = ("answers", "retrieval", "abstention", "selective", "latency_ms")
F1_CHANGE = 0.5  # a per-question F1 move larger than this (in [0, 1]) counts as a changed outcome


@dataclass(frozen=True, slots=True)
class MetricDelta:
    name: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass(frozen=True, slots=True)
class ChangedQuestion:
    id: str
    question: str
    reasons: tuple[str, ...]      # "em", "abstained", "f1"
    prediction_a: str
    prediction_b: str
    f1_a: float | None
    f1_b: float | None
    abstained_a: bool | None
    abstained_b: bool | None


@dataclass(frozen=True, slots=True)
class TierChange:
    """A question the pipeline graded differently (say confident in A, uncertain in B)."""

    id: str
    question: str
    tier_a: str
    tier_b: str
    confidence_a: float | None
    confidence_b: float | None
    candidate_a: str
    candidate_b: str
    candidate_f1_a: float | None
    candidate_f1_b: float | None


@dataclass(frozen=True, slots=True)
class Comparison:
    metrics: tuple[MetricDelta, ...]
    changed: tuple[ChangedQuestion, ...]
    only_in_a: int
    only_in_b: int
    tier_changes: tuple[TierChange, ...] = ()   # empty when either run has no tiers (older runs)


def flat_metrics(metrics: dict[str, Any]) -> dict[str, float | None]:
    """``{"answers.f1": 57.2, "selective.share_by_tier.answerable.none": 20.0, ...}`` over the
    numeric figures of the compared groups."""
    flat: dict[str, float | None] = {}
    for group in COMPARED_GROUPS:
        flat.update(flat_figures(metrics.get(group), f"{group}."))
    return flat


def tier_change(a: dict[str, Any], b: dict[str, Any]) -> TierChange | None:
    """The two predictions' tiers if both runs graded the question and the grades differ."""
    tier_a, tier_b = a.get("tier"), b.get("tier")
    if tier_a is None or tier_b is None or tier_a == tier_b:
        return None
    return TierChange(id=a["id"], question=a.get("question", ""), tier_a=tier_a, tier_b=tier_b,
                      confidence_a=a.get("confidence"), confidence_b=b.get("confidence"),
                      candidate_a=a.get("candidate") or "", candidate_b=b.get("candidate") or "",
                      candidate_f1_a=a.get("candidate_f1"), candidate_f1_b=b.get("candidate_f1"))


def compare_runs(metrics_a: dict, predictions_a: list[dict], metrics_b: dict, predictions_b: list[dict]) -> Comparison:
    flat_a, flat_b = flat_metrics(metrics_a), flat_metrics(metrics_b)
    names = list(flat_a) + [n for n in flat_b if n not in flat_a]
    deltas = tuple(MetricDelta(n, flat_a.get(n), flat_b.get(n)) for n in names)
    by_id_b = {p["id"]: p for p in predictions_b}
    ids_a = {p["id"] for p in predictions_a}
    changed = []
    tier_changes = []
    for a in predictions_a:
        b = by_id_b.get(a["id"])
        if b is None:
            continue
        moved = tier_change(a, b)
        if moved is not None:
            tier_changes.append(moved)
        reasons = []
        if a.get("em") is not None and b.get("em") is not None and a["em"] != b["em"]:
            reasons.append("em")
        if a.get("abstained") is not None and b.get("abstained") is not None and a["abstained"] != b["abstained"]:
            reasons.append("abstained")
        if a.get("f1") is not None and b.get("f1") is not None and abs(b["f1"] - a["f1"]) > F1_CHANGE:
            reasons.append("f1")
        if reasons:
            changed.append(ChangedQuestion(
                id=a["id"], question=a["question"], reasons=tuple(reasons),
                prediction_a=a.get("prediction", ""), prediction_b=b.get("prediction", ""),
                f1_a=a.get("f1"), f1_b=b.get("f1"), abstained_a=a.get("abstained"), abstained_b=b.get("abstained"),
            ))
    return Comparison(
        metrics=deltas, changed=tuple(changed),
        only_in_a=len(ids_a - by_id_b.keys()), only_in_b=len(by_id_b.keys() - ids_a),
        tier_changes=tuple(tier_changes),
    )


def format_comparison(comparison: Comparison, *, label_a: str = "A", label_b: str = "B", shown: int = 50) -> str:
    rows = [(d.name, format_value(d.a, 3), format_value(d.b, 3), "-" if d.delta is None else f"{d.delta:+.3f}")
            for d in comparison.metrics]
    lines = [f"A = {label_a}", f"B = {label_b}", ""]
    lines.extend(text_table(("metric", "A", "B", "B - A"), rows))
    if comparison.only_in_a or comparison.only_in_b:
        lines.append(f"\n  {comparison.only_in_a} question(s) only in A, {comparison.only_in_b} only in B (not compared)")
    better = sum(1 for c in comparison.changed if (c.f1_b or 0) > (c.f1_a or 0))
    lines.append(f"\n  {len(comparison.changed)} question(s) changed outcome "
                 f"({better} better in B, {len(comparison.changed) - better} worse or equal F1):")

    def shown_answer(text: str, abstained: bool | None) -> str:
        return "(abstained)" if abstained else repr(text[:40])

    rows = [(c.id[:24], c.question[:50], ",".join(c.reasons), shown_answer(c.prediction_a, c.abstained_a),
             shown_answer(c.prediction_b, c.abstained_b), f"{format_value(c.f1_a, 2)} → {format_value(c.f1_b, 2)}")
            for c in comparison.changed[:shown]]
    if rows:
        lines.extend(text_table(("id", "question", "changed", "A answer", "B answer", "F1"), rows))
    if len(comparison.changed) > shown:
        lines.append(f"  ... and {len(comparison.changed) - shown} more (use --json for all)")
    lines.extend(format_tier_changes(comparison.tier_changes, shown=shown))
    return "\n".join(lines)


def format_tier_changes(changes: tuple[TierChange, ...], *, shown: int = 50) -> list[str]:
    """How many questions moved between tiers, by move, and the first ``shown`` of them."""
    if not changes:
        return []
    moves = Counter(f"{c.tier_a} → {c.tier_b}" for c in changes)
    lines = [f"\n  {len(changes)} question(s) changed tier: "
             + ", ".join(f"{move} {count}" for move, count in sorted(moves.items()))]
    rows = [(c.id[:24], c.question[:50], f"{c.tier_a} → {c.tier_b}",
             f"{format_value(c.confidence_a, 2)} → {format_value(c.confidence_b, 2)}",
             repr(c.candidate_b[:40]), f"{format_value(c.candidate_f1_a, 2)} → {format_value(c.candidate_f1_b, 2)}")
            for c in changes[:shown]]
    lines.extend(text_table(("id", "question", "tier", "confidence", "B candidate", "candidate F1"), rows))
    if len(changes) > shown:
        lines.append(f"  ... and {len(changes) - shown} more (use --json for all)")
    return lines
