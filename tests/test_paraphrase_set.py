"""The paraphrase set (eval/seeds_paraphrase.jsonl): seeds_dev facts asked in users' own words.

Each answerable row rewords one answerable seeds_dev question (synonyms, capital for country,
role for name, another word order, or the other language) and keeps its gold answers, article
and question type. The unanswerable rows are new questions in the same style. The set is split
into "fit" and "holdout" by a fixed rule (per fact, see below) so that nothing tuned on the fit
half has seen a fact of the holdout half. Stdlib and pytest only; no models.

Failure messages name rows of this file only, never the text of seeds_holdout.jsonl.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tests.test_question_sets import load, normalise_question

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
PARAPHRASE = ROOT / "eval" / "seeds_paraphrase.jsonl"
DEV = ROOT / "eval" / "seeds_dev.jsonl"
CALIBRATION = ROOT / "eval" / "abstention_calibration.jsonl"
HOLDOUT = ROOT / "eval" / "seeds_holdout.jsonl"

GERMAN_TYPES = {"wer", "wann", "wo", "wie viele", "welche", "was", "warum", "wie"}
ENGLISH_TYPES = {"en-who", "en-when", "en-where", "en-how-many", "en-which", "en-what", "en-why", "en-how"}
TO_ENGLISH = dict(zip(
    ["wer", "wann", "wo", "wie viele", "welche", "was", "warum", "wie"],
    ["en-who", "en-when", "en-where", "en-how-many", "en-which", "en-what", "en-why", "en-how"],
))
SPLITS = ("fit", "holdout")
ANSWERABLE_KEYS = {"id", "question", "answers", "lang", "doc_id", "type", "paraphrase", "source_id", "split"}
UNANSWERABLE_KEYS = {"id", "question", "answers", "lang", "type", "category", "paraphrase", "split"}
OPTIONAL_KEYS = {"note"}

MIN_ANSWERABLE = 70
MIN_UNANSWERABLE = 20
MIN_PER_SPLIT = 30


def german_fact_splits(dev_rows: list[dict]) -> dict[tuple[str, tuple[str, ...]], str]:
    """The split rule: within each article, seeds_dev's answerable German questions in file (id)
    order alternate fit, holdout, fit, ... starting with fit. A fact is (doc_id, answers); every
    paraphrase of a fact, German or English, takes that fact's split."""
    seen: Counter[str] = Counter()
    splits = {}
    for row in dev_rows:
        if row["answers"] and row["lang"] == "de":
            splits[(row["doc_id"], tuple(row["answers"]))] = SPLITS[seen[row["doc_id"]] % 2]
            seen[row["doc_id"]] += 1
    return splits


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return load(PARAPHRASE)


@pytest.fixture(scope="module")
def answerable(rows) -> list[dict]:
    return [r for r in rows if r["answers"]]


@pytest.fixture(scope="module")
def unanswerable(rows) -> list[dict]:
    return [r for r in rows if not r["answers"]]


@pytest.fixture(scope="module")
def dev() -> list[dict]:
    return load(DEV)


@pytest.fixture(scope="module")
def dev_by_id(dev) -> dict[str, dict]:
    return {row["id"]: row for row in dev}


def test_ids_are_unique_well_formed_and_new(rows, dev):
    counts = Counter(row.get("id") for row in rows)
    assert [i for i, n in counts.items() if n > 1] == []
    others = {row["id"] for path in (DEV, CALIBRATION, HOLDOUT) for row in load(path)}
    assert sorted(set(counts) & others) == []
    for row in rows:
        assert isinstance(row.get("id"), str), row
        if row["answers"]:
            assert re.fullmatch(r"pa-\d{3}", row["id"]), row["id"]
        else:
            assert re.fullmatch(r"pa-un-\d{3}", row["id"]), row["id"]


def test_rows_have_the_documented_fields(rows):
    for row in rows:
        where = row["id"]
        required = ANSWERABLE_KEYS if row["answers"] else UNANSWERABLE_KEYS
        assert required <= row.keys(), f"{where}: missing {sorted(required - row.keys())}"
        assert row.keys() <= required | OPTIONAL_KEYS, f"{where}: unexpected {sorted(row.keys() - required - OPTIONAL_KEYS)}"
        assert row["paraphrase"] is True, where
        assert isinstance(row["question"], str) and row["question"] == row["question"].strip() != "", where
        assert isinstance(row["answers"], list), where
        assert row["lang"] in {"de", "en"}, where
        assert row["type"] in (GERMAN_TYPES if row["lang"] == "de" else ENGLISH_TYPES), f"{where}: {row['type']!r}"
        assert row["split"] in SPLITS, f"{where}: split {row['split']!r}"
        if "note" in row:
            assert isinstance(row["note"], str) and row["note"].strip(), where


def test_counts(answerable, unanswerable):
    assert len(answerable) >= MIN_ANSWERABLE
    assert len(unanswerable) >= MIN_UNANSWERABLE
    english = [r for r in answerable if r["lang"] == "en"]
    assert 10 <= len(english) < len(answerable) / 2, "mostly German, with some English paraphrases"
    per_article = Counter(r["doc_id"] for r in answerable)
    assert set(per_article) == {path.name for path in SEEDS.glob("*.txt")}, "every article is covered"
    assert min(per_article.values()) >= 10, per_article
    on_topic = sum(r["category"] == "on-topic" for r in unanswerable)
    assert on_topic >= 2 * len(unanswerable) / 3, "most unanswerable questions are on-topic"
    assert on_topic < len(unanswerable), "and some are off-topic"


def test_every_answer_is_a_verbatim_span_of_its_article(answerable):
    texts = {path.name: path.read_text(encoding="utf-8") for path in SEEDS.glob("*.txt")}
    for row in answerable:
        where = row["id"]
        assert row["doc_id"] in texts, f"{where}: no seed article {row['doc_id']!r}"
        assert len(set(row["answers"])) == len(row["answers"]), f"{where}: duplicate answers"
        for answer in row["answers"]:
            assert isinstance(answer, str) and answer == answer.strip() != "", f"{where}: {answer!r}"
            assert answer in texts[row["doc_id"]], f"{where}: {answer!r} is not in {row['doc_id']}"


def test_each_paraphrase_keeps_its_source_fact(answerable, dev_by_id):
    for row in answerable:
        where = row["id"]
        source = dev_by_id.get(row["source_id"])
        assert source is not None, f"{where}: source_id {row['source_id']!r} is not in seeds_dev.jsonl"
        assert source["answers"], f"{where}: source {row['source_id']} is unanswerable"
        assert row["answers"] == source["answers"], f"{where}: answers differ from {row['source_id']}"
        assert row["doc_id"] == source["doc_id"], f"{where}: doc_id differs from {row['source_id']}"
        if row["lang"] == source["lang"]:
            expected = source["type"]
        elif row["lang"] == "en":
            expected = TO_ENGLISH[source["type"]]
        else:
            expected = {en: de for de, en in TO_ENGLISH.items()}[source["type"]]
        assert row["type"] == expected, f"{where}: type {row['type']!r}, source type gives {expected!r}"


def test_paraphrases_differ_from_their_source_and_from_every_other_set(rows, dev_by_id):
    for row in rows:
        if row["answers"]:
            source = dev_by_id[row["source_id"]]
            assert normalise_question(row["question"]) != normalise_question(source["question"]), f"{row['id']}: same as {source['id']}"
    own = Counter(normalise_question(row["question"]) for row in rows)
    assert [q for q, n in own.items() if n > 1] == [], "a question occurs twice in the paraphrase set"
    for path in (DEV, CALIBRATION, HOLDOUT):
        others = {normalise_question(row["question"]) for row in load(path)}
        repeated = [row["id"] for row in rows if normalise_question(row["question"]) in others]
        assert repeated == [], f"these rows repeat a question of {path.name}: {repeated}"


def test_split_follows_the_per_fact_rule(answerable, unanswerable, dev):
    splits = german_fact_splits(dev)
    for row in answerable:
        fact = (row["doc_id"], tuple(row["answers"]))
        assert fact in splits, f"{row['id']}: no German seeds_dev question has this fact"
        assert row["split"] == splits[fact], f"{row['id']}: split {row['split']!r}, the rule gives {splits[fact]!r}"
    for number, row in enumerate(sorted(unanswerable, key=lambda r: r["id"])):
        assert row["split"] == SPLITS[number % 2], f"{row['id']}: unanswerable rows alternate fit/holdout"


def test_both_splits_are_large_enough_and_share_no_fact(answerable, unanswerable):
    for split in SPLITS:
        assert sum(r["split"] == split for r in answerable) >= MIN_PER_SPLIT, split
        assert any(r["split"] == split for r in unanswerable), split
        for lang in ("de", "en"):
            assert any(r["split"] == split and r["lang"] == lang for r in answerable), (split, lang)
    facts = {split: {(r["doc_id"], r["answers"][0]) for r in answerable if r["split"] == split} for split in SPLITS}
    assert facts["fit"] & facts["holdout"] == set()


def test_unanswerable_rows_have_no_answers_article_or_source(unanswerable):
    assert unanswerable
    for row in unanswerable:
        assert row["answers"] == [], row["id"]
        assert "doc_id" not in row and "source_id" not in row, row["id"]
        assert row["category"] in {"on-topic", "off-topic"}, row["id"]
