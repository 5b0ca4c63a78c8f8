"""benchmarks/calibrate_abstention.py: which XQuAD articles calibration may use, and that its
rows hold the features the pipeline decides on."""
from __future__ import annotations

import argparse

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
