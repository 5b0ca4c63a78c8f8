"""benchmarks/calibrate_abstention.py: which XQuAD articles calibration may use, and that its
rows hold the features the pipeline decides on."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from benchmarks.calibrate_abstention import article_range, main
from qa.chat import detect_language
from qa.pipeline import AbstentionPolicy


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


@pytest.mark.parametrize("question", ["Wo sprechen die USA mit Frankreich?", "Where do the USA talk to Russia?",
                                      "Wo sprechen die USA mit Russland?"])
def test_calibration_rows_hold_the_features_the_pipeline_decides_on(question):
    import math

    from benchmarks.calibrate_abstention import example
    from tests.test_pipeline import _pipeline

    policy = AbstentionPolicy(margin_weight=0.2, retrieval_weight=3.0, unmentioned_weight=-4.0,
                              english_weight=0.7, sentence_weight=1.5, bias=-1.0)
    pipeline, reader = _pipeline(policy=policy)
    hits = pipeline.retriever.search(question, k=2)
    evidence = reader.read_with_evidence(question, hits)
    row = example(pipeline, "seeds", 1, question, None, hits, evidence)
    confidence, terms = policy.assess(question, hits, evidence, embedder=pipeline.embedder)
    z = policy.logit(margin=row["margin"], retrieval=row["retrieval"], sentence=row["sentence"],
                     english=detect_language(question) == "en", unmentioned=row["unmentioned"])
    assert confidence == pytest.approx(1 / (1 + math.exp(-z)))
    assert row["unmentioned"] == (0.5 if "Frankreich" in question else 0.0)
    assert terms == (("Frankreich",) if "Frankreich" in question else ())


def test_measured_row_counts_answered_and_abstained_per_language_and_category():
    from benchmarks.calibrate_abstention import measured_row

    conf = np.array([0.9, 0.2, 0.8, 0.1, 0.7, 0.3])
    y = np.array([1, 1, 0, 0, 0, 1])
    cat = np.array(["", "", "on-topic", "on-topic", "off-topic", ""])
    lang = np.array(["de", "de", "de", "en", "en", "en"])
    row, curve = measured_row("set", conf, y, cat, lang, 0.5)
    cells = [c.strip() for c in row.strip("|").split("|")]
    # 3 answerable (1 answered), 3 unanswerable (2 on-topic; 1 abstained: on-topic 50 %, off-topic 0 %)
    assert cells == ["set", "3", "3 (2)", "33.3 %", "33.3 %", "50.0 %", "0.0 %", "50.0 / 0.0 %",
                     "0.0 / 50.0 %"]
    assert curve.startswith("- set: 0.10: 100 / 0") and "0.80: 33 / 67" in curve


def test_row_confidences_match_the_policy_and_are_0_without_a_span():
    from benchmarks.calibrate_abstention import row_confidences

    policy = AbstentionPolicy(margin_weight=0.5, retrieval_weight=2.0, unmentioned_weight=-3.0,
                              english_weight=1.0, bias=-4.0)
    rows = [{"question": "Wo liegt Genf?", "margin": 4.0, "retrieval": 0.8, "sentence": None,
             "unmentioned": 0.5},
            {"question": "Where is Geneva?", "margin": 4.0, "retrieval": 0.8, "sentence": None,
             "unmentioned": 0.0},
            {"question": "Wo liegt Genf?", "margin": None, "retrieval": None, "sentence": None,
             "unmentioned": None}]
    conf = row_confidences(rows, policy)
    assert conf[0] == pytest.approx(1 / (1 + np.exp(-(2.0 + 1.6 - 1.5 - 4.0))))
    assert conf[1] == pytest.approx(1 / (1 + np.exp(-(2.0 + 1.6 + 1.0 - 4.0))))
    assert conf[2] == 0.0
