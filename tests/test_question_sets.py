"""The hand-written seed question sets: well-formed, verbatim answers, counts as declared, no leaks.

eval/seeds_dev.jsonl is for measuring, eval/abstention_calibration.jsonl for fitting the
"not in the corpus" thresholds; a question in both would let the thresholds see the test set.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
DEV = ROOT / "eval" / "seeds_dev.jsonl"
CALIBRATION = ROOT / "eval" / "abstention_calibration.jsonl"

GERMAN_TYPES = {"wer", "wann", "wo", "wie viele", "welche", "was", "warum", "wie"}
ENGLISH_TYPES = {"en-who", "en-when", "en-where", "en-how-many", "en-which", "en-what", "en-why", "en-how"}
CATEGORIES = {"on-topic", "off-topic"}
REQUIRED = {"id", "question", "answers", "lang", "type"}
OPTIONAL = {"doc_id", "note", "category"}

# Counts eval/README.md declares for the calibration set.
CALIBRATION_ANSWERABLE = 60
CALIBRATION_UNANSWERABLE = 100
CALIBRATION_ON_TOPIC = 70
CALIBRATION_OFF_TOPIC = 30


def load(path: Path) -> list[dict]:
    """The rows of a JSONL question set; a blank line, bad JSON or a non-object fails the test
    at its line (tests/test_paraphrase_set.py and test_gnad_set.py use this one too)."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{path.name}:{number}: blank line"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            pytest.fail(f"{path.name}:{number}: not JSON ({error})")
        assert isinstance(row, dict), f"{path.name}:{number}: not an object"
        rows.append(row)
    assert rows, f"{path.name} is empty"
    return rows


def seed_text(doc_id: str) -> str:
    return (SEEDS / doc_id).read_text(encoding="utf-8")


def normalise_question(text: str) -> str:
    """Case, punctuation and spacing do not make two questions different."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"\w+", text))


@pytest.fixture(scope="module")
def dev() -> list[dict]:
    return load(DEV)


@pytest.fixture(scope="module")
def calibration() -> list[dict]:
    return load(CALIBRATION)


@pytest.fixture(scope="module", params=["dev", "calibration"])
def question_set(request, dev, calibration) -> tuple[str, list[dict]]:
    return request.param, {"dev": dev, "calibration": calibration}[request.param]


def test_rows_have_the_documented_fields_and_types(question_set):
    name, rows = question_set
    for row in rows:
        where = f"{name} {row.get('id')!r}"
        assert REQUIRED <= row.keys(), f"{where}: missing {REQUIRED - row.keys()}"
        assert row.keys() <= REQUIRED | OPTIONAL, f"{where}: unknown {row.keys() - REQUIRED - OPTIONAL}"
        assert isinstance(row["id"], str) and row["id"], where
        assert isinstance(row["question"], str) and row["question"] == row["question"].strip() != "", where
        assert isinstance(row["answers"], list), where
        assert row["lang"] in {"de", "en"}, where
        allowed_types = GERMAN_TYPES if row["lang"] == "de" else ENGLISH_TYPES
        assert row["type"] in allowed_types, f"{where}: type {row['type']!r} for lang {row['lang']}"
        for answer in row["answers"]:
            assert isinstance(answer, str) and answer == answer.strip() != "", f"{where}: {answer!r}"
        assert len(set(row["answers"])) == len(row["answers"]), f"{where}: duplicate answers"
        if row["answers"]:
            assert (SEEDS / row["doc_id"]).is_file(), f"{where}: no seed {row.get('doc_id')!r}"
            assert "category" not in row, where
        else:
            assert "doc_id" not in row, f"{where}: unanswerable questions have no doc_id"
            assert row["category"] in CATEGORIES, where


def test_ids_are_unique_within_and_across_the_sets(dev, calibration):
    ids = Counter(row["id"] for row in dev + calibration)
    assert [i for i, n in ids.items() if n > 1] == []


def test_every_answer_is_a_verbatim_span_of_its_article(question_set):
    name, rows = question_set
    missing = [
        (row["id"], answer)
        for row in rows
        for answer in row["answers"]
        if answer not in seed_text(row["doc_id"])
    ]
    assert missing == [], f"{name}: answers not found verbatim: {missing}"


def test_seeds_dev_has_the_required_counts(dev):
    answerable_de = [r for r in dev if r["answers"] and r["lang"] == "de"]
    answerable_en = [r for r in dev if r["answers"] and r["lang"] == "en"]
    unanswerable = [r for r in dev if not r["answers"]]
    assert len(answerable_de) >= 60
    assert len(answerable_en) >= 15
    assert len(unanswerable) >= 10
    assert {r["category"] for r in unanswerable} == CATEGORIES
    per_doc = Counter(r["doc_id"] for r in answerable_de)
    assert set(per_doc) == {p.name for p in SEEDS.glob("*.txt")}, "every seed article is asked about"
    assert min(per_doc.values()) >= 10, per_doc
    assert {r["type"] for r in answerable_de} == GERMAN_TYPES, "every German question word is covered"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Wo finden die Gespräche der USA mit Russland statt?", "Genf"),
        ("Wie viele Menschen sind im Donbass seit 2014 getötet worden?", "13 000"),
        ("Wer ist der US-Sondergesandte?", "Steve Witkoff"),
        ("Wer hat die Fußball-WM 2014 gewonnen?", None),
    ],
)
def test_issue_acceptance_questions_are_in_seeds_dev(dev, question, expected):
    row = next((r for r in dev if r["question"] == question), None)
    assert row is not None, f"missing: {question}"
    if expected is None:
        assert row["answers"] == []
    else:
        assert row["answers"], question
        assert expected in row["answers"][0], "the first answer is the issue's expected one"


def test_calibration_has_the_declared_counts(calibration):
    answerable = [r for r in calibration if r["answers"]]
    unanswerable = [r for r in calibration if not r["answers"]]
    assert len(answerable) == CALIBRATION_ANSWERABLE
    assert len(unanswerable) == CALIBRATION_UNANSWERABLE
    categories = Counter(r["category"] for r in unanswerable)
    assert categories == {"on-topic": CALIBRATION_ON_TOPIC, "off-topic": CALIBRATION_OFF_TOPIC}
    assert CALIBRATION_ON_TOPIC + CALIBRATION_OFF_TOPIC == CALIBRATION_UNANSWERABLE
    assert {r["lang"] for r in answerable} == {"de", "en"}
    assert {r["lang"] for r in unanswerable} == {"de", "en"}
    assert len({r["doc_id"] for r in answerable}) == len(list(SEEDS.glob("*.txt")))


def test_calibration_shares_no_question_with_seeds_dev(dev, calibration):
    dev_questions = {normalise_question(r["question"]) for r in dev}
    shared = [r["question"] for r in calibration if normalise_question(r["question"]) in dev_questions]
    assert shared == []


def test_calibration_asks_about_other_facts_than_seeds_dev(dev, calibration):
    """Same article and same gold span means the same fact asked twice: a leak from the measuring set."""
    dev_spans = {(r["doc_id"], a.casefold()) for r in dev for a in r["answers"]}
    shared = [
        (r["id"], a) for r in calibration for a in r["answers"] if (r["doc_id"], a.casefold()) in dev_spans
    ]
    assert shared == []


def test_questions_are_unique_within_each_set(question_set):
    name, rows = question_set
    counts = Counter(normalise_question(r["question"]) for r in rows)
    assert [q for q, n in counts.items() if n > 1] == [], name
