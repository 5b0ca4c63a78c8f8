"""Reading question sets: every format, article selection, language pairing, and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from embeddings.errors import QAError
from qa.evaluation.datasets import load_dataset, parse_articles
from tests.fakes import tiny_squad

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_lines(path: Path, *lines) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n"
                            for line in lines), encoding="utf-8")
    return path


def test_squad_v11_questions_and_paragraph_documents(tmp_path):
    dataset = load_dataset(write_json(tmp_path / "tiny.de.json", tiny_squad()))
    assert dataset.format == "squad"
    assert [q.id for q in dataset.questions] == ["q-genf", "q-witkoff", "q-donbass", "q-gruendung", "q-hq"]
    assert [d.doc_id for d in dataset.documents] == ["tiny-de-a0-p0", "tiny-de-a0-p1", "tiny-de-a1-p0"]
    assert [d.title for d in dataset.documents] == ["Genf", "Genf", "NATO"]
    first = dataset.questions[0]
    assert first.answers == ("Genf",)
    assert first.context_id == "tiny-de-a0-p0"
    assert first.context == dataset.documents[0].text
    assert first.extras["article"] == "Genf"
    assert dataset.has_answer_spans


def test_squad_v2_impossible_questions_have_no_answers(tmp_path):
    dataset = load_dataset(write_json(tmp_path / "v2.json", tiny_squad(impossible=("q-hq",))))
    by_id = {q.id: q for q in dataset.questions}
    assert by_id["q-hq"].answers == ()
    assert not by_id["q-hq"].answerable
    assert by_id["q-genf"].answerable


def test_articles_select_questions_but_keep_all_paragraphs(tmp_path):
    dataset = load_dataset(write_json(tmp_path / "t.json", tiny_squad()), articles=parse_articles("1"))
    assert [q.id for q in dataset.questions] == ["q-gruendung", "q-hq"]
    assert len(dataset.documents) == 3


def test_parse_articles():
    assert parse_articles("40-47") == frozenset(range(40, 48))
    assert parse_articles("0-2, 7") == frozenset({0, 1, 2, 7})
    for bad in ("x", "5-3", "1-", ""):
        with pytest.raises(QAError, match="--articles"):
            parse_articles(bad)


def test_articles_beyond_the_file_is_an_error(tmp_path):
    with pytest.raises(QAError, match="articles 0-1"):
        load_dataset(write_json(tmp_path / "t.json", tiny_squad()), articles=parse_articles("40-47"))


def test_questions_from_pairs_english_questions_with_german_contexts(tmp_path):
    german = write_json(tmp_path / "tiny.de.json", tiny_squad())
    english = write_json(tmp_path / "tiny.en.json", tiny_squad(lang="en"))
    dataset = load_dataset(german, questions_from=english, articles=parse_articles("0"))
    first = dataset.questions[0]
    assert first.question == "Where do the talks take place?"
    assert first.answers == ("Genf",)                       # the German gold answer
    assert first.context_id == "tiny-de-a0-p0"
    assert first.extras["questions_from"] == "tiny.en.json"
    assert len(dataset.questions) == 3


def test_jsonl_question_set_keeps_extra_fields(tmp_path):
    path = write_lines(
        tmp_path / "seeds.jsonl",
        {"id": "a", "question": "Wo?", "answers": ["Genf", "in Genf"], "lang": "de", "source": "x"},
        "",
        {"id": "b", "question": "Who won?", "answers": [], "lang": "en"},
    )
    dataset = load_dataset(path, limit=5)
    assert dataset.format == "jsonl"
    assert dataset.questions[0].answers == ("Genf", "in Genf")
    assert dict(dataset.questions[0].extras) == {"lang": "de", "source": "x"}
    assert dataset.questions[1].answers == ()
    assert dataset.documents == ()
    assert len(load_dataset(path, limit=1).questions) == 1


def test_mlqa_rows_are_detected(tmp_path):
    context = "Der Rhein fließt durch Basel. Er ist lang."
    row = {"context": context, "question": "Wodurch fließt der Rhein?",
           "answers": {"answer_start": [23], "text": ["Basel"]}, "id": "abc"}
    path = write_lines(tmp_path / "mlqa.dev.de-de.jsonl", row, dict(row, id="def", question="Was?"))
    dataset = load_dataset(path)
    assert dataset.format == "mlqa"
    assert [q.answers for q in dataset.questions] == [("Basel",), ("Basel",)]
    assert len(dataset.documents) == 1                       # one document per distinct context
    assert dataset.questions[1].context_id == dataset.documents[0].doc_id == "mlqa-dev-de-de-p0"


def test_qrels_folder(tmp_path):
    write_lines(tmp_path / "corpus.jsonl", {"_id": "c1", "text": "Aufzug\n\nText eins."},
                {"_id": "c2", "text": "Text zwei."})
    write_lines(tmp_path / "queries.jsonl", {"_id": "q1", "text": "Wo ist der Aufzug?"},
                {"_id": "q2", "text": "Ohne Urteil?"})
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tc1\t1\n", encoding="utf-8")
    dataset = load_dataset(tmp_path)
    assert dataset.format == "qrels"
    assert [q.id for q in dataset.questions] == ["q1"]        # q2 has no judgement: skipped
    assert dataset.questions[0].answers is None
    assert dataset.questions[0].gold_doc_ids == ("c1",)
    assert not dataset.has_answer_spans
    assert {d.doc_id for d in dataset.documents} == {"c1", "c2"}


# --- malformed input: a QAError naming file and line ---------------------------------------

@pytest.mark.parametrize("lines, line, message", [
    (['{"id": "a", "question": "Q?", "answers": []}', '{"id": "b", "question": '], 2, "invalid JSON"),
    (['{"id": "a", "answers": ["x"]}'], 1, "missing 'question'"),
    (['{"id": "a", "question": "Q?", "answers": "Genf"}'], 1, "list of strings"),
    (['{"id": "a", "question": "Q?", "answers": [1]}'], 1, "list of strings"),
    (['{"id": "a", "question": 5, "answers": []}'], 1, "must be a string"),
    (['{"id": "a", "question": "  ", "answers": []}'], 1, "is empty"),
    (['{"id": "a", "question": "Q?"}'], 1, "missing 'answers'"),
    (['{"id": "a", "question": "Q?", "answers": [""]}'], 1, "empty string"),
    (['{"id": "a", "question": "Q?", "answers": []}', '[1, 2]'], 2, "expected a JSON object"),
    (['{"id": "a", "question": "Q?", "answers": []}', '', '{"id": "a", "question": "R?", "answers": []}'],
     3, "duplicate id"),
    (['{"foo": 1}'], 1, "unknown format"),
])
def test_malformed_jsonl(tmp_path, lines, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(QAError) as error:
        load_dataset(path)
    assert f"{path}:{line}:" in str(error.value)
    assert message in str(error.value)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(QAError, match=r"empty\.jsonl: the file is empty"):
        load_dataset(empty)
    with pytest.raises(QAError, match="no such file"):
        load_dataset(tmp_path / "nope.json")


def test_malformed_squad_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [\n{"title": "x",\n "paragraphs": [}\n]}', encoding="utf-8")
    with pytest.raises(QAError, match=r"bad\.json:3: invalid JSON"):
        load_dataset(bad)
    with pytest.raises(QAError, match=r"list\.json:1: unknown format"):
        load_dataset(write_json(tmp_path / "list.json", [{"question": "x"}]))

    data = tiny_squad()
    del data["data"][1]["paragraphs"][0]["qas"][1]["question"]
    path = write_json(tmp_path / "noq.json", data)
    with pytest.raises(QAError) as error:
        load_dataset(path)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if '"q-hq"' in text)
    assert f"{path}:{line}:" in str(error.value)
    assert "data[1].paragraphs[0].qas[1]" in str(error.value) and "missing 'question'" in str(error.value)

    data = tiny_squad()
    data["data"][0]["paragraphs"][0]["qas"][0]["answers"] = "Genf"
    with pytest.raises(QAError, match="'answers' must be a list"):
        load_dataset(write_json(tmp_path / "ans.json", data))


def test_malformed_qrels(tmp_path):
    write_lines(tmp_path / "corpus.jsonl", {"_id": "c1", "text": "T"})
    write_lines(tmp_path / "queries.jsonl", {"_id": "q1", "text": "Q?"})
    (tmp_path / "qrels").mkdir()
    tsv = tmp_path / "qrels" / "test.tsv"
    tsv.write_text("query-id\tcorpus-id\tscore\nq1\tc1\n", encoding="utf-8")
    with pytest.raises(QAError, match=r"test\.tsv:2: expected 3"):
        load_dataset(tmp_path)
    tsv.write_text("q1\tc9\t1\n", encoding="utf-8")
    with pytest.raises(QAError, match=r"test\.tsv:1: corpus-id 'c9'"):
        load_dataset(tmp_path)
    with pytest.raises(QAError, match="unknown format"):
        load_dataset(tmp_path / "qrels")


@pytest.mark.skipif(not (SHARED / "xquad").exists(), reason="shared evaluation data not on this machine")
def test_real_xquad_and_mlqa_counts():
    xquad = load_dataset(SHARED / "xquad" / "xquad.de.json", articles=parse_articles("40-47"),
                         questions_from=SHARED / "xquad" / "xquad.en.json")
    assert len(xquad.questions) == 177 and len(xquad.documents) == 240
    mlqa = load_dataset(SHARED / "mlqa_de_de_dev" / "mlqa.dev.de-de.jsonl")
    assert (len(mlqa.questions), len(mlqa.documents)) == (512, 456)
