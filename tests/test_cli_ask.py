"""``qa ask``: the human output and the documented ``--json`` shape, on a QASystem of fakes
handed to ``main`` as its ``load_system``."""
from __future__ import annotations

import json

import pytest

from embeddings.documents import Document
from embeddings.indexing import build_index
from qa.answering.confidence import ConfidencePolicy
from qa.commands.main import main
from qa.retrieval.retriever import Retriever
from qa.system import QASystem
from tests.fakes import FakeEmbedder, FakeReader, LoaderSpy

DOCS = [
    Document(doc_id="genf.txt", title="Gespräche in Genf",
             text="Die USA sprechen in Genf mit Russland. Die Gespräche beginnen am 9. Januar."),
    Document(doc_id="nato.txt", title="Nato-Gipfel", text="Der Nato-Gipfel findet in Vilnius statt."),
]
# Answers unless the question names something the answer's passage does not mention.
POLICY = ConfidencePolicy(weights={"unmentioned": -5.0}, bias=1.0, none_below=0.5, confident_from=0.6)
# The one JSON shape of qa.answering.present.response_json (qa ask --json and the /ask API).
TOP_KEYS = {"question", "retrieval_query", "language", "abstained", "tier", "confidence", "message", "reader",
            "unmentioned", "answers", "citations", "passages"}
ANSWER_KEYS = {"text", "score", "doc_id", "title", "start", "end", "sentence", "sentence_start", "sentence_end",
               "reader", "passage_start", "passage_end", "citation"}
PASSAGE_KEYS = {"rank", "score", "doc_id", "title", "metadata", "pages", "start", "end", "text"}
OPTIONAL_PASSAGE_KEYS = {"dense_score"}


def loader_over(docs):
    """A ``load_system`` giving a QASystem over ``docs`` (fake embedder, FakeReader answering
    "Genf", POLICY), built by constructor injection; it records every load."""
    def load(settings, **options):
        emb = FakeEmbedder()
        retriever = Retriever(build_index(docs, emb, max_tokens=50, overlap=0, show_progress=False), emb)
        return QASystem(settings, retriever=retriever, confidence=POLICY,
                        reader=FakeReader(answer_for=lambda q: "Genf", null_logit=0.0))

    return LoaderSpy(load)


@pytest.fixture()
def built():
    return loader_over(DOCS)


def test_json_is_exactly_one_object_of_the_documented_shape(built, capsys):
    argv = ["ask", "Wo sprechen die USA mit Russland?", "--json", "--k", "2", "--top-n", "1"]
    assert main(argv, load_system=built) == 0
    out = capsys.readouterr().out
    data = json.loads(out)  # one object, nothing else on stdout
    assert set(data) == TOP_KEYS
    assert data["tier"] == "confident" and 0.6 <= data["confidence"] <= 1.0
    assert data["question"] == "Wo sprechen die USA mit Russland?" and data["reader"] == "fake-reader"
    assert data["retrieval_query"] == data["question"] and data["language"] == "de"
    assert data["abstained"] is False and data["message"] == "Genf" and data["unmentioned"] == []
    assert len(data["answers"]) == 1 and set(data["answers"][0]) == ANSWER_KEYS
    answer = data["answers"][0]
    text = {d.doc_id: d.text for d in DOCS}[answer["doc_id"]]
    assert answer["text"] == "Genf" and text[answer["start"]:answer["end"]] == "Genf"
    assert answer["passage_start"] <= answer["start"] < answer["end"] <= answer["passage_end"]
    assert answer["sentence_start"] <= answer["start"] < answer["end"] <= answer["sentence_end"]
    assert 0.0 <= answer["score"] <= 1.0 and answer["citation"] == 1
    assert len(data["passages"]) == 2
    assert all(PASSAGE_KEYS <= set(p) <= PASSAGE_KEYS | OPTIONAL_PASSAGE_KEYS for p in data["passages"])
    [citation] = data["citations"]
    assert citation["number"] == 1 and set(citation) - {"number"} <= PASSAGE_KEYS | OPTIONAL_PASSAGE_KEYS
    assert (citation["doc_id"], citation["start"], citation["end"]) == (
        answer["doc_id"], answer["passage_start"], answer["passage_end"])
    assert built.settings[0].k == 2 and built.settings[0].top_n == 1


def test_json_abstention_has_no_answers_but_keeps_the_passages(built, capsys):
    assert main(["ask", "Wo sprechen die USA mit Frankreich?", "--json", "--k", "1"], load_system=built) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["answers"] == [] and len(data["passages"]) == 1
    assert data["tier"] == "none" and data["confidence"] < 0.5
    assert data["abstained"] is True and data["unmentioned"] == ["Frankreich"]
    assert data["message"] == "Dazu finde ich in den Artikeln keine Antwort."
    assert [c["number"] for c in data["citations"]] == [1]   # the closest passage


def test_uncertain_answers_are_shown_and_flagged(built, capsys):
    # threshold 0: never "none"; half the names unmentioned: 1/(1+e^1.5) = 0.18, below the confident cut
    argv = ["ask", "Wo sprechen die USA mit Frankreich?", "--k", "1", "--threshold", "0"]
    assert main(argv + ["--json"], load_system=built) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tier"] == "uncertain" and data["answers"][0]["text"] == "Genf"
    assert main(argv, load_system=built) == 0
    out = capsys.readouterr().out
    assert "A: Genf" in out and "uncertain (confidence 0.18): check the cited sentence" in out


def test_human_output_cites_the_sentence_or_says_what_is_missing(built, capsys):
    assert main(["ask", "Wo sprechen die USA mit Russland?", "--k", "1"], load_system=built) == 0
    out = capsys.readouterr().out
    assert "A: Genf" in out and "[1] Gespräche in Genf" in out and "confident (confidence 0.73)" in out
    assert '    "Die USA sprechen in Genf mit Russland.' in out and "reader: fake-reader" in out
    assert main(["ask", "Wo sprechen die USA mit Frankreich?", "--k", "1"], load_system=built) == 0
    out = capsys.readouterr().out
    assert "(no answer)" in out and "do not mention: Frankreich." in out and "tier: none" in out


def test_human_output_gives_each_source_its_original_address(capsys):
    from types import MappingProxyType

    docs = [Document(doc_id=d.doc_id, title=d.title, text=d.text, metadata=MappingProxyType(
                {"outlet": "Der Standard", "url": f"https://example.org/{d.doc_id}"} if d is DOCS[0]
                else {"url": "javascript:alert(1)"})) for d in DOCS]
    built = loader_over(docs)
    assert main(["ask", "Wo sprechen die USA mit Russland?", "--k", "1"], load_system=built) == 0
    out = capsys.readouterr().out
    assert "[1] Gespräche in Genf (Der Standard)\n    https://example.org/genf.txt\n" in out
    assert main(["ask", "Wo sprechen die USA mit Frankreich?", "--k", "2"], load_system=built) == 0
    out = capsys.readouterr().out
    assert "      https://example.org/genf.txt" in out and "javascript:" not in out  # only http(s) links


def test_human_output_shows_the_alternatives_the_chat_shows_and_json_keeps_all(capsys):
    docs = DOCS + [Document(doc_id="oslo.txt", title="Oslo", text="Die Delegationen reisten nach Oslo weiter.")]
    load = loader_over(docs)
    question = ["ask", "Wo sprechen die USA mit Russland?", "--k", "3", "--top-n", "3"]
    assert main(question + ["--json"], load_system=load) == 0
    answers = json.loads(capsys.readouterr().out)["answers"]
    assert len(answers) == 3 and answers[2]["score"] < answers[0]["score"] / 2
    assert [a["citation"] for a in answers] == [1, 2, 3]
    assert main(question, load_system=load) == 0
    out = capsys.readouterr().out
    # the third answer scores under half the best: the chat hides it, and so does qa ask
    assert f"A: {answers[0]['text']}" in out and f"alternative: {answers[1]['text']}" in out
    assert answers[2]["text"] not in out.split("reader:")[0].replace(answers[0]["text"], "")
    assert out.count("\n[") == 2 and "[1] " in out and "[2] " in out and "[3]" not in out
    assert "(1 weaker candidate not shown; --json lists every answer)" in out


# One check for every surface: qa.answering.question.check_question and qa.system.check_limits.
@pytest.mark.parametrize("argv, message", [
    (["ask", "Wo?", "--threshold", "2"], "threshold must be between 0 and 1"),
    (["ask", "   "], "Please type a question"),
    (["ask", "Wo? " * 3000], "characters"),
    (["ask", "x" * 1001], "please keep it under 1\u202f000"),
    (["ask", "Wo?", "--threshold", "nan"], "threshold must be between 0 and 1"),
    (["ask", "Wo?", "--k", "0"], "k (passages to read) must be 1-50"),
    (["ask", "Wo?", "--k", "51"], "k (passages to read) must be 1-50"),
    (["ask", "Wo?", "--top-n", "11"], "top_n (answers) must be 1-10"),
])
def test_bad_input_is_one_clear_line_and_exit_2(built, capsys, argv, message):
    assert main(argv, load_system=built) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert built.calls == []   # checked before any model loads


def test_the_longest_question_and_the_widest_limits_are_accepted(built, capsys):
    argv = ["ask", "Wo sprechen die USA mit Russland? " + "x" * 966, "--k", "50", "--top-n", "10", "--json"]
    assert len(argv[1]) == 1000 and main(argv, load_system=built) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["question"] == argv[1] and data["passages"]
    assert (built.settings[0].k, built.settings[0].top_n) == (50, 10)


@pytest.mark.parametrize("argv", [["ask", "Wo?", "--corpus", ""], ["ask", "Wo?", "--index-dir", "  "],
                                  ["index", ""]])
def test_an_empty_folder_is_refused_not_read_as_the_current_one(built, capsys, argv):
    with pytest.raises(SystemExit) as stop:
        main(argv, load_system=built)
    assert stop.value.code == 2 and "empty path" in capsys.readouterr().err
    assert built.calls == []   # nothing was loaded or indexed
