"""``qa ask``: the human output and the documented ``--json`` shape, on fakes."""
from __future__ import annotations

import json

import pytest

from embeddings.documents import Document
from embeddings.indexing import build_index
from qa.commands.main import main
from qa.commands import ask as ask_command
from qa.answering.confidence import ConfidencePolicy
from qa.answering.pipeline import QAPipeline
from qa.retrieval.retriever import Retriever
from tests.fakes import FakeEmbedder, FakeReader

DOCS = [
    Document(doc_id="genf.txt", title="Gespräche in Genf",
             text="Die USA sprechen in Genf mit Russland. Die Gespräche beginnen am 9. Januar."),
    Document(doc_id="nato.txt", title="Nato-Gipfel", text="Der Nato-Gipfel findet in Vilnius statt."),
]
# Answers unless the question names something the answer's passage does not mention.
POLICY = ConfidencePolicy(weights={"unmentioned": -5.0}, bias=1.0, none_below=0.5, confident_from=0.6)
ANSWER_KEYS = {"text", "score", "doc_id", "title", "start", "end", "sentence", "passage_start", "passage_end"}
PASSAGE_KEYS = {"doc_id", "title", "start", "end", "score", "text"}


@pytest.fixture()
def built(monkeypatch):
    settings_seen = []

    def build(settings, *, show_progress=True):
        settings_seen.append(settings)
        emb = FakeEmbedder()
        retriever = Retriever(build_index(DOCS, emb, max_tokens=50, overlap=0, show_progress=False), emb)
        return QAPipeline(retriever, FakeReader(answer_for=lambda q: "Genf", null_logit=0.0), confidence=POLICY)

    monkeypatch.setattr(ask_command, "build_pipeline", build)
    return settings_seen


def test_json_is_exactly_one_object_of_the_documented_shape(built, capsys):
    assert main(["ask", "Wo sprechen die USA mit Russland?", "--json", "--k", "2", "--top-n", "1"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)  # one object, nothing else on stdout
    assert set(data) == {"question", "reader", "tier", "confidence", "answers", "passages"}
    assert data["tier"] == "confident" and 0.6 <= data["confidence"] <= 1.0
    assert data["question"] == "Wo sprechen die USA mit Russland?" and data["reader"] == "fake-reader"
    assert len(data["answers"]) == 1 and set(data["answers"][0]) == ANSWER_KEYS
    answer = data["answers"][0]
    text = {d.doc_id: d.text for d in DOCS}[answer["doc_id"]]
    assert answer["text"] == "Genf" and text[answer["start"]:answer["end"]] == "Genf"
    assert answer["passage_start"] <= answer["start"] < answer["end"] <= answer["passage_end"]
    assert 0.0 <= answer["score"] <= 1.0
    assert len(data["passages"]) == 2 and all(set(p) == PASSAGE_KEYS for p in data["passages"])
    assert built[0].k == 2 and built[0].top_n == 1


def test_json_abstention_has_no_answers_but_keeps_the_passages(built, capsys):
    assert main(["ask", "Wo sprechen die USA mit Frankreich?", "--json", "--k", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["answers"] == [] and len(data["passages"]) == 1
    assert data["tier"] == "none" and data["confidence"] < 0.5


def test_uncertain_answers_are_shown_and_flagged(built, capsys):
    # threshold 0: never "none"; half the names unmentioned: 1/(1+e^1.5) = 0.18, below the confident cut
    argv = ["ask", "Wo sprechen die USA mit Frankreich?", "--k", "1", "--threshold", "0"]
    assert main(argv + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tier"] == "uncertain" and data["answers"][0]["text"] == "Genf"
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "A: Genf" in out and "uncertain (confidence 0.18): check the cited sentence" in out


def test_human_output_cites_the_sentence_or_says_what_is_missing(built, capsys):
    assert main(["ask", "Wo sprechen die USA mit Russland?", "--k", "1"]) == 0
    out = capsys.readouterr().out
    assert "A: Genf" in out and "[1] Gespräche in Genf" in out and "confident (confidence 0.73)" in out
    assert '    "Die USA sprechen in Genf mit Russland.' in out and "reader: fake-reader" in out
    assert main(["ask", "Wo sprechen die USA mit Frankreich?", "--k", "1"]) == 0
    out = capsys.readouterr().out
    assert "(no answer)" in out and "do not mention: Frankreich." in out and "tier: none" in out


def test_human_output_shows_the_alternatives_the_chat_shows_and_json_keeps_all(monkeypatch, capsys):
    docs = DOCS + [Document(doc_id="oslo.txt", title="Oslo", text="Die Delegationen reisten nach Oslo weiter.")]

    def build(settings, *, show_progress=True):
        emb = FakeEmbedder()
        retriever = Retriever(build_index(docs, emb, max_tokens=50, overlap=0, show_progress=False), emb)
        return QAPipeline(retriever, FakeReader(answer_for=lambda q: "Genf"), confidence=POLICY)

    monkeypatch.setattr(ask_command, "build_pipeline", build)
    question = ["ask", "Wo sprechen die USA mit Russland?", "--k", "3", "--top-n", "3"]
    assert main(question + ["--json"]) == 0
    answers = json.loads(capsys.readouterr().out)["answers"]
    assert len(answers) == 3 and answers[2]["score"] < answers[0]["score"] / 2
    assert main(question) == 0
    out = capsys.readouterr().out
    # the third answer scores under half the best: the chat hides it, and so does qa ask
    assert f"A: {answers[0]['text']}" in out and f"alternative: {answers[1]['text']}" in out
    assert answers[2]["text"] not in out.split("reader:")[0].replace(answers[0]["text"], "")
    assert out.count("\n[") == 2 and "[1] " in out and "[2] " in out and "[3]" not in out
    assert "(1 weaker candidate not shown; --json lists every answer)" in out


@pytest.mark.parametrize("argv, message", [
    (["ask", "Wo?", "--threshold", "2"], "--threshold must be between 0 and 1"),
    (["ask", "   "], "empty"),
    (["ask", "Wo? " * 3000], "characters"),
    (["ask", "Wo?", "--threshold", "nan"], "--threshold must be between 0 and 1"),
])
def test_bad_input_is_one_clear_line_and_exit_2(built, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["ask", "Wo?", "--corpus", ""], ["ask", "Wo?", "--index-dir", "  "],
                                  ["index", ""]])
def test_an_empty_folder_is_refused_not_read_as_the_current_one(built, capsys, argv):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and "empty path" in capsys.readouterr().err
    assert built == []   # nothing was loaded or indexed
