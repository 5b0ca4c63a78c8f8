"""The 10kGNAD question set (eval/gnad_dev.jsonl) and the corpus writer (benchmarks/gnad_corpus.py).

The set is written over rows 0-49 (split "fit") and 950-1027 (split "holdout") of the 10kGNAD test
csv only; rows 50-949 are reserved for measuring the product. The csv-dependent tests skip when
../shared/data/gnad10k/test.csv is absent. Needs the standard library and pytest only.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tests.test_question_sets import load, normalise_question

from benchmarks.gnad_corpus import GNAD, file_name, main, read_gnad, write_gnad_corpus

ROOT = Path(__file__).resolve().parents[1]
GNAD_SET = ROOT / "eval" / "gnad_dev.jsonl"
OTHER_SETS = tuple(ROOT / "eval" / name for name in
                   ("seeds_dev.jsonl", "abstention_calibration.jsonl", "seeds_holdout.jsonl"))

GERMAN_TYPES = {"wer", "wann", "wo", "wie viele", "welche", "was", "warum", "wie"}
ENGLISH_TYPES = {"en-who", "en-when", "en-where", "en-how-many", "en-which", "en-what", "en-why", "en-how"}
# id prefix -> (style, lang); gn-un is unanswerable in either language
PREFIXES = {"de": ("direct", "de"), "pa": ("paraphrase", "de"), "en": ("english", "en"), "un": ("unanswerable", None)}
ID_PATTERN = re.compile(r"gn-(de|pa|en|un)-(\d{3})")
COMMON = {"id", "question", "answers", "lang", "type", "split", "style"}
ANSWERABLE_KEYS = COMMON | {"doc_id", "row", "paraphrase", "note"}
UNANSWERABLE_KEYS = COMMON | {"category", "paraphrase", "note"}
FIT_ROWS = range(0, 50)
HOLDOUT_ROWS = range(950, 1028)
LABELS = {"Sport", "Wirtschaft", "Inland", "International", "Web", "Panorama", "Etat", "Kultur", "Wissenschaft"}

needs_csv = pytest.mark.skipif(not GNAD.is_file(), reason=f"{GNAD} is absent")


@pytest.fixture(scope="module")
def gnad_set() -> list[dict]:
    return load(GNAD_SET)


@pytest.fixture(scope="module")
def articles() -> list[tuple[str, str]]:
    return read_gnad(GNAD)


def answerable(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["answers"]]


def test_ids_are_unique_and_match_style_and_language(gnad_set):
    counts = Counter(r["id"] for r in gnad_set)
    assert [i for i, n in counts.items() if n > 1] == []
    for row in gnad_set:
        match = ID_PATTERN.fullmatch(row["id"])
        assert match, row["id"]
        style, lang = PREFIXES[match.group(1)]
        assert row["style"] == style, f"{row['id']}: style {row['style']!r}"
        assert lang is None or row["lang"] == lang, f"{row['id']}: lang {row['lang']!r}"
        assert (style == "unanswerable") == (row["answers"] == []), f"{row['id']}: id and answers disagree"
        assert row.get("paraphrase", False) is (style == "paraphrase"), f"{row['id']}: paraphrase flag"


def test_rows_have_the_documented_fields(gnad_set):
    for row in gnad_set:
        where = row.get("id")
        assert COMMON <= row.keys(), f"{where}: missing {COMMON - row.keys()}"
        assert isinstance(row["question"], str) and row["question"] == row["question"].strip() != "", where
        assert row["lang"] in {"de", "en"}, where
        assert row["type"] in (GERMAN_TYPES if row["lang"] == "de" else ENGLISH_TYPES), f"{where}: {row['type']!r}"
        assert row["split"] in {"fit", "holdout"}, where
        assert isinstance(row["answers"], list), where
        if row["answers"]:
            assert row.keys() <= ANSWERABLE_KEYS, f"{where}: unexpected {row.keys() - ANSWERABLE_KEYS}"
            assert {"doc_id", "row"} <= row.keys(), f"{where}: answerable rows need doc_id and row"
            assert isinstance(row["row"], int), where
            assert 1 <= len(row["answers"]) <= 3, where
            assert len(set(row["answers"])) == len(row["answers"]), f"{where}: duplicate answers"
            for answer in row["answers"]:
                assert isinstance(answer, str) and answer == answer.strip() != "", f"{where}: {answer!r}"
        else:
            assert row.keys() <= UNANSWERABLE_KEYS, f"{where}: unexpected {row.keys() - UNANSWERABLE_KEYS}"
            assert row["category"] in {"on-topic", "off-topic"}, where


def test_rows_are_only_the_allowed_ones_and_the_split_follows_the_row(gnad_set):
    for row in answerable(gnad_set):
        assert row["row"] in FIT_ROWS or row["row"] in HOLDOUT_ROWS, f"{row['id']}: row {row['row']} is reserved"
        assert (row["split"] == "fit") == (row["row"] <= 49), f"{row['id']}: split {row['split']} for row {row['row']}"
        label = row["doc_id"].removeprefix(f"gnad-{row['row']:04d}-").removesuffix(".txt")
        assert row["doc_id"] == f"gnad-{row['row']:04d}-{label}.txt" and label in LABELS, row["id"]


def test_counts_styles_splits_and_spread(gnad_set):
    assert len(gnad_set) >= 150
    styles = Counter(r["style"] for r in gnad_set)
    assert styles["paraphrase"] >= 35 and styles["english"] >= 30 and styles["direct"] >= 35, styles
    unanswerable = [r for r in gnad_set if not r["answers"]]
    assert len(unanswerable) >= 30
    on_topic = sum(r["category"] == "on-topic" for r in unanswerable)
    assert 3 * on_topic >= 2 * len(unanswerable), (on_topic, len(unanswerable))
    splits = Counter((r["split"], r["style"]) for r in gnad_set)
    assert all(splits[split, style] >= 10 for split in ("fit", "holdout")
               for style in ("direct", "paraphrase", "english", "unanswerable")), splits
    assert len({r["row"] for r in answerable(gnad_set)}) >= 60
    assert {r["doc_id"].split("-", 2)[2].removesuffix(".txt") for r in answerable(gnad_set)} == LABELS


def test_no_question_repeats_one_of_this_or_the_seed_sets(gnad_set):
    counts = Counter(normalise_question(r["question"]) for r in gnad_set)
    assert [q for q, n in counts.items() if n > 1] == []
    taken = {normalise_question(r["question"]) for path in OTHER_SETS for r in load(path)}
    assert [r["id"] for r in gnad_set if normalise_question(r["question"]) in taken] == []


@needs_csv
def test_every_answer_is_a_verbatim_span_of_its_row(gnad_set, articles):
    assert len(articles) == 1028
    for row in answerable(gnad_set):
        label, text = articles[row["row"]]
        assert row["doc_id"] == file_name(row["row"], label), f"{row['id']}: doc_id {row['doc_id']}, label {label}"
        for answer in row["answers"]:
            assert answer in text, f"{row['id']}: {answer!r} is not in row {row['row']}"


def test_the_eval_loader_reads_the_file(gnad_set):
    datasets = pytest.importorskip("qa.evaluation.datasets")
    dataset = datasets.load_dataset(GNAD_SET)
    assert [q.id for q in dataset.questions] == [r["id"] for r in gnad_set]
    by_id = {q.id: q for q in dataset.questions}
    for row in gnad_set:
        assert by_id[row["id"]].answers == tuple(row["answers"])
        assert by_id[row["id"]].context_id == row.get("doc_id")


TINY_CSV = (
    "Sport;'Ein Text; mit Semikolon und Umlauten: äöü ß'\n"
    "Web;'It''s quoted – mit Gedankenstrich'\n"
    "Kultur;'  Leerzeichen am Rand bleiben  '\n"
)
TINY_ROWS = [
    ("Sport", "Ein Text; mit Semikolon und Umlauten: äöü ß"),
    ("Web", "It's quoted – mit Gedankenstrich"),
    ("Kultur", "  Leerzeichen am Rand bleiben  "),
]


def test_write_gnad_corpus_names_files_by_row_and_label_and_keeps_the_text(tmp_path):
    csv_path = tmp_path / "tiny.csv"
    csv_path.write_text(TINY_CSV, encoding="utf-8")
    assert read_gnad(csv_path) == TINY_ROWS
    out = tmp_path / "corpus"
    paths = write_gnad_corpus(out, csv_path=csv_path)
    assert [p.name for p in paths] == ["gnad-0000-Sport.txt", "gnad-0001-Web.txt", "gnad-0002-Kultur.txt"]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)
    assert [p.read_bytes().decode("utf-8") for p in paths] == [text for _, text in TINY_ROWS]

    stamps = [p.stat().st_mtime_ns for p in paths]
    assert write_gnad_corpus(out, csv_path=csv_path) == paths
    assert [p.stat().st_mtime_ns for p in paths] == stamps, "an identical file must be left alone"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths), "no temporary files left"

    paths[1].write_text("changed", encoding="utf-8")
    write_gnad_corpus(out, csv_path=csv_path)
    assert paths[1].read_text(encoding="utf-8") == TINY_ROWS[1][1]


def test_a_missing_csv_is_one_clear_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as error:
        write_gnad_corpus(tmp_path / "out", csv_path=tmp_path / "missing.csv")
    message = str(error.value)
    assert "missing.csv" in message and "\n" not in message
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):
        main([str(tmp_path / "out"), "--csv", str(tmp_path / "missing.csv")])


def test_the_cli_writes_the_corpus(tmp_path, capsys):
    csv_path = tmp_path / "tiny.csv"
    csv_path.write_text(TINY_CSV, encoding="utf-8")
    assert main([str(tmp_path / "out"), "--csv", str(csv_path)]) == 0
    assert "3 articles" in capsys.readouterr().out
    assert len(list((tmp_path / "out").glob("gnad-*.txt"))) == 3


def test_two_writers_at_once_leave_every_file_whole(tmp_path):
    """Two processes writing the same corpus folder: each file ends whole and no temp is left
    (each writer renames its own uniquely named temp file into place)."""
    import subprocess
    import sys

    rows = [("Sport", f"Artikel {i}: " + "Text mit Umlauten äöü. " * 400) for i in range(60)]
    csv_path = tmp_path / "many.csv"
    csv_path.write_text("".join(f"{label};'{text}'\n" for label, text in rows), encoding="utf-8")
    out = tmp_path / "corpus"
    command = [sys.executable, "-m", "benchmarks.gnad_corpus", str(out), "--csv", str(csv_path)]
    root = Path(__file__).resolve().parent.parent
    writers = [subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for _ in range(2)]
    errors = [w.communicate(timeout=120)[1].decode() for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    assert sorted(p.name for p in out.iterdir()) == [file_name(i, "Sport") for i in range(60)]
    assert [(out / file_name(i, "Sport")).read_text(encoding="utf-8") for i in range(60)] == [t for _, t in rows]


def test_an_empty_out_dir_is_refused_not_read_as_the_current_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["", "--csv", str(tmp_path / "x.csv")])
    assert stop.value.code == 2 and "empty path" in capsys.readouterr().err
