"""The held-out seed question set (eval/seeds_holdout.jsonl): well-formed, verbatim answers, no overlap.

The set measures the "not in the corpus" decision and the answers on questions nobody tuned
against, so it must not repeat a question of seeds_dev.jsonl or abstention_calibration.jsonl.
Reads JSONL and the seed articles only; no models.
"""
from __future__ import annotations

import re
from collections import Counter

import pytest

from qa.evaluation.datasets import load_dataset
from tests.test_question_sets import CATEGORIES as KINDS
from tests.test_question_sets import ENGLISH_TYPES, GERMAN_TYPES, REQUIRED, ROOT, SEEDS
from tests.test_question_sets import load as load_rows
from tests.test_question_sets import normalise_question

HOLDOUT = ROOT / "eval" / "seeds_holdout.jsonl"
OTHER_SETS = (ROOT / "eval" / "seeds_dev.jsonl", ROOT / "eval" / "abstention_calibration.jsonl")
ANSWERABLE_KEYS = REQUIRED | {"doc_id", "note"}
UNANSWERABLE_KEYS = REQUIRED | {"category", "note"}
ID_PATTERN = re.compile(r"ho-(de|en|un-de|un-en)-\d{3}")


@pytest.fixture(scope="module")
def holdout() -> list[dict]:
    return load_rows(HOLDOUT)


@pytest.fixture(scope="module")
def other_rows() -> list[dict]:
    return [row for path in OTHER_SETS for row in load_rows(path)]


def test_ids_are_unique_and_do_not_clash_with_the_other_sets(holdout, other_rows):
    counts = Counter(row["id"] for row in holdout)
    assert [i for i, n in counts.items() if n > 1] == []
    assert set(counts) & {row["id"] for row in other_rows} == set()
    for row in holdout:
        assert ID_PATTERN.fullmatch(row["id"]), row["id"]
        prefix_lang = row["id"].split("-")[-2]
        assert prefix_lang == row["lang"], f"{row['id']}: id says {prefix_lang}, lang is {row['lang']}"
        assert ("-un-" in row["id"]) == (row["answers"] == []), f"{row['id']}: id and answers disagree"


def test_rows_have_the_documented_fields(holdout):
    for row in holdout:
        where = row.get("id")
        assert REQUIRED <= row.keys(), f"{where}: missing {REQUIRED - row.keys()}"
        assert row["lang"] in {"de", "en"}, where
        assert row["type"] in (GERMAN_TYPES if row["lang"] == "de" else ENGLISH_TYPES), f"{where}: {row['type']!r}"
        assert isinstance(row["question"], str) and row["question"] == row["question"].strip() != "", where
        assert isinstance(row["answers"], list), where
        if row["answers"]:
            assert row.keys() <= ANSWERABLE_KEYS, f"{where}: unexpected {row.keys() - ANSWERABLE_KEYS}"
            assert (SEEDS / row["doc_id"]).is_file(), f"{where}: no seed article {row.get('doc_id')!r}"
        else:
            assert row.keys() <= UNANSWERABLE_KEYS, f"{where}: unexpected {row.keys() - UNANSWERABLE_KEYS}"
            assert row["category"] in KINDS, where


def test_every_answer_is_a_verbatim_span_of_its_article(holdout):
    texts = {path.name: path.read_text(encoding="utf-8") for path in SEEDS.glob("*.txt")}
    for row in (r for r in holdout if r["answers"]):
        where = row["id"]
        assert 1 <= len(row["answers"]) <= 3, where
        assert len(set(row["answers"])) == len(row["answers"]), f"{where}: duplicate answers"
        for answer in row["answers"]:
            assert isinstance(answer, str) and answer == answer.strip() != "", f"{where}: {answer!r}"
            assert answer in texts[row["doc_id"]], f"{where}: {answer!r} is not in {row['doc_id']}"


def test_unanswerable_rows_have_no_answers_and_no_article(holdout):
    unanswerable = [r for r in holdout if not r["answers"]]
    assert unanswerable
    for row in unanswerable:
        assert row["answers"] == [], row["id"]
        assert row.get("doc_id") is None, row["id"]


def test_no_question_repeats_one_of_the_other_sets_or_itself(holdout, other_rows):
    taken = {normalise_question(r["question"]) for r in other_rows}
    repeated = [r["id"] for r in holdout if normalise_question(r["question"]) in taken]
    assert repeated == []
    counts = Counter(normalise_question(r["question"]) for r in holdout)
    assert [q for q, n in counts.items() if n > 1] == []


def test_counts_cover_both_languages_all_articles_and_mostly_hard_unanswerables(holdout):
    answerable = [r for r in holdout if r["answers"]]
    unanswerable = [r for r in holdout if not r["answers"]]
    langs = Counter(r["lang"] for r in answerable)
    assert langs["de"] >= 40 and langs["en"] >= 15, langs
    kinds = Counter((r["category"], r["lang"]) for r in unanswerable)
    assert kinds["on-topic", "de"] + kinds["on-topic", "en"] >= 30, kinds
    assert min(kinds.values()) >= 3 and len(kinds) == 4, kinds
    per_article = Counter(r["doc_id"] for r in answerable)
    assert set(per_article) == {p.name for p in SEEDS.glob("*.txt")}, per_article
    assert min(per_article.values()) >= 10, per_article


def test_the_eval_loader_reads_the_file_as_a_jsonl_question_set(holdout):
    dataset = load_dataset(HOLDOUT)
    assert dataset.format == "jsonl"
    assert [q.id for q in dataset.questions] == [r["id"] for r in holdout]
    by_id = {q.id: q for q in dataset.questions}
    for row in holdout:
        question = by_id[row["id"]]
        assert question.answers == tuple(row["answers"])
        assert question.answerable == bool(row["answers"])
        assert question.context_id == row.get("doc_id")
