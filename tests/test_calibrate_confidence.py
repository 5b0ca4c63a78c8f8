"""benchmarks/calibrate_confidence.py: its bad-input handling and the figures it reports."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from benchmarks.calibrate_confidence import choose_cuts, main, summarise
from benchmarks.report import positive_int


def row(*, answerable: bool, correct: bool, candidate: str = "x") -> dict:
    return {"answerable": answerable, "correct": correct, "candidate": candidate,
            "answers": ["x"] if answerable else [], "features": {}}


@pytest.mark.parametrize("value", ["0", "-5", "x", ""])
def test_counts_must_be_whole_numbers_of_at_least_one(value):
    with pytest.raises(argparse.ArgumentTypeError):
        positive_int(value)
    assert positive_int("3") == 3


@pytest.mark.parametrize("argv, message", [
    (["collect", "--xquad-questions", "-5", "xquad_fit"], "must be at least 1"),
    (["collect", "nonsense"], "invalid choice"),
    (["fit"], "holds no collected rows"),
    (["collect", "gnad"], "no 10kGNAD index"),
])
def test_bad_input_is_one_line_and_exit_2_before_any_model_loads(tmp_path, capsys, argv, message):
    extra = ["--gnad-index", str(tmp_path / "none")] if argv[:2] == ["collect", "gnad"] else []
    with pytest.raises(SystemExit) as stop:
        main(["--rows", str(tmp_path / "rows"), *argv, *extra])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_area_and_coverage_at_90_by_hand():
    # by confidence: right (answerable), wrong (unanswerable), right, wrong (answerable)
    rows = [row(answerable=True, correct=True), row(answerable=False, correct=False),
            row(answerable=True, correct=True), row(answerable=True, correct=False)]
    s = summarise(np.array([0.9, 0.8, 0.7, 0.6]), rows)
    # coverage steps of 1/3: precision 1, (1/2 adds no coverage), 2/3, 2/4
    assert s["area"] == pytest.approx(100 * (1 / 3 * 1 + 1 / 3 * 2 / 3 + 1 / 3 * 2 / 4))
    assert s["coverage@90"] == pytest.approx(100 / 3)
    assert (s["answerable"], s["unanswerable"]) == (3, 1)


def test_cuts_keep_answerable_questions_out_of_none_and_confident_answers_right():
    rows = [row(answerable=True, correct=c) for c in (True, True, True, False, True, False)]
    rows += [row(answerable=False, correct=False)]
    conf = np.array([0.95, 0.9, 0.85, 0.5, 0.4, 0.3, 0.1])
    none_below, confident_from = choose_cuts(conf, rows, keep_answerable=1.0, confident_precision=0.88)
    assert none_below == pytest.approx(0.3)          # every answerable question stays above it
    assert confident_from == pytest.approx(0.85)     # 3 of 3 right there; at 0.5, 3 of 4
