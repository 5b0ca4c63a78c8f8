"""benchmarks/calibrate_abstention.py: which XQuAD articles calibration may use."""
from __future__ import annotations

import argparse

import pytest

from benchmarks.calibrate_abstention import article_range, main


def test_article_range_accepts_ranges_within_the_tuning_articles():
    assert article_range("30-39") == range(30, 40)
    assert article_range("0-39") == range(0, 40)
    assert article_range("7") == range(7, 8)


@pytest.mark.parametrize("spec", ["", "abc", "30-", "-5", "39-30", "30-40", "40-47", "0-" + "9" * 5000,
                                  "30-39; rm -rf /"])
def test_article_range_refuses_held_out_empty_and_malformed_specs(spec):
    with pytest.raises(argparse.ArgumentTypeError):
        article_range(spec)


def test_a_bad_article_range_stops_before_any_model_work(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--xquad-articles", "40-47"])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert "--xquad-articles" in error and "40-47 are held out" in error and "Traceback" not in error
