"""Feedback on answers: checked entries, one JSON line each (several writers at once lose
nothing), malformed lines skipped, and the question set ``qa eval`` runs made of them."""
from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from embeddings.errors import QAError
from qa.answering.feedback import Feedback, FeedbackLog, feedback_path
from qa.commands.main import main
from qa.evaluation.datasets import load_dataset
from qa.evaluation.feedback import feedback_question, feedback_questions, write_question_set
from qa.settings import REPO_ROOT
from tests.fakes import FakeReader, fake_loader

SEED = "000_d219b86bc509e6da.txt"


def right(question="Wo finden die Gespräche statt?", answer="Genf", **more) -> Feedback:
    return Feedback(question=question, verdict="right", answer=answer, doc_id=SEED, start=10, end=14,
                    tier="confident", confidence=0.9, **more)


# --- the entry ---------------------------------------------------------------------------


def test_feedback_path_is_beside_the_index(tmp_path):
    assert feedback_path(tmp_path / "index") == tmp_path / "index" / "feedback.jsonl"


def test_an_entry_is_normalised():
    entry = Feedback(question="  Wo  finden\tdie Gespräche statt? ", verdict="wrong", answer=" Genf ",
                     correct_answer="  in   Genf ", history=["Erste Frage?"], confidence=1, start=0, end=0)
    assert entry.question == "Wo finden die Gespräche statt?"
    assert (entry.answer, entry.correct_answer) == ("Genf", "in Genf")
    assert entry.history == ("Erste Frage?",) and entry.confidence == 1.0 and isinstance(entry.confidence, float)
    assert entry.created_at.endswith("+00:00")
    assert Feedback(question="Q?", verdict="wrong", correct_answer="  ").correct_answer is None
    assert len(Feedback(question="Q?", verdict="right", history=["F?"] * 80).history) == 50


@pytest.mark.parametrize("fields, message", [
    (dict(verdict="maybe"), "verdict 'maybe' is neither"),
    (dict(question="   "), "feedback: Bitte eine Frage eingeben"),
    (dict(question="x" * 1001), "höchstens 1"),
    (dict(question=None), "Bitte eine Frage eingeben"),
    (dict(verdict="wrong", correct_answer="x" * 1001), "correct_answer has 1001 characters"),
    (dict(correct_answer="Genf"), "goes with the verdict 'wrong'"),
    (dict(answer=42), "answer must be text"),
    (dict(start=5, end=3), "start 5 is after end 3"),
    (dict(start=5), "both start and end"),
    (dict(start=-1, end=3), "character offset"),
    (dict(start=True, end=3), "character offset"),
    (dict(start="1", end="3"), "character offset"),
    (dict(history="Und wann?"), "history must be a list"),
    (dict(history=[1, 2]), "history must hold questions"),
    (dict(tier="sure"), "tier 'sure'"),
    (dict(confidence=1.5), "confidence must be a number from 0 to 1"),
    (dict(confidence=float("nan")), "confidence must be"),
    (dict(confidence=True), "confidence must be"),
    (dict(created_at=""), "created_at"),
])
def test_bad_entries_are_refused_with_a_clear_message(fields, message):
    values = {"question": "Wo?", "verdict": "right", **fields}
    with pytest.raises(QAError, match=message.replace("(", r"\(")) as error:
        Feedback(**values)
    assert str(error.value).startswith("feedback: ") and "\n" not in str(error.value)


# --- the file ----------------------------------------------------------------------------


def test_recorded_entries_read_back_equal(tmp_path):
    log = FeedbackLog(feedback_path(tmp_path / "index"))   # the folder is made when needed
    assert log.entries() == []
    first = right(history=("Wer telefoniert?",))
    second = Feedback(question="Und wann?", verdict="wrong", answer="Sonntag", correct_answer="am späten Sonntagabend",
                      history=("Wer telefoniert?",), tier="uncertain", confidence=0.4)
    log.record(first)
    log.record(second)
    assert log.entries() == [first, second]
    lines = log.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["correct_answer"] == "am späten Sonntagabend"
    assert "Gespräche" in lines[0]   # UTF-8, not \\u escapes


def test_malformed_lines_are_skipped_with_one_warning_each(tmp_path, caplog):
    path = tmp_path / "feedback.jsonl"
    good = right()
    path.write_bytes(b"\n".join([
        json.dumps(good.to_json()).encode(),
        b"not json at all",
        b"[1, 2, 3]",
        json.dumps({"question": "Wo?"}).encode(),                        # no verdict
        json.dumps({"question": "Wo?", "verdict": "vielleicht"}).encode(),
        json.dumps({"question": "Wo?", "verdict": "right", "start": 9, "end": 2}).encode(),
        b"\xff\xfe kaputt",
        b"[" * 100_000 + b"]" * 100_000,                                   # nested past the recursion limit
        json.dumps({**good.to_json(), "later_field": 1}).encode(),        # a later version's key: ignored
        b"",
        b'{"question": "Halb geschrie',                                    # a writer died mid-line
    ]))
    with caplog.at_level(logging.WARNING, logger="qa.answering.feedback"):
        entries = FeedbackLog(path).entries()
    assert entries == [good, good]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 8
    assert warnings[0].startswith(f"{path}:2: skipping a malformed feedback line")
    assert "missing 'verdict'" in warnings[2] and "neither 'right' nor 'wrong'" in warnings[3]
    # The next entry starts a line of its own, so it is not lost to the broken one.
    FeedbackLog(path).record(right(question="Wer telefoniert?"))
    assert FeedbackLog(path).entries()[-1].question == "Wer telefoniert?"


def test_a_folder_that_cannot_hold_the_file_is_a_clear_error(tmp_path):
    (tmp_path / "index").write_text("a file, not a folder", encoding="utf-8")
    with pytest.raises(QAError, match="cannot record feedback in .* the index folder must be writable"):
        FeedbackLog(feedback_path(tmp_path / "index")).record(right())


def test_threads_recording_at_once_lose_nothing(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    long = "Sicherheitsgarantien " * 45    # ~1 KB fields: lines far above PIPE_BUF

    def worker(n: int) -> None:
        for i in range(40):
            log.record(Feedback(question=f"Frage {n}-{i}?", verdict="wrong", correct_answer=long,
                                history=(long,) * 20))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    questions = [e.question for e in log.entries()]
    assert sorted(questions) == sorted(f"Frage {n}-{i}?" for n in range(6) for i in range(40))


RECORD = """
import sys
from pathlib import Path
from qa.answering.feedback import Feedback, FeedbackLog
log, name = FeedbackLog(Path(sys.argv[1])), sys.argv[2]
long = "Sicherheitsgarantien " * 45
for i in range(150):
    log.record(Feedback(question=f"{name} {i}?", verdict="wrong", correct_answer=long, history=(long,) * 40))
"""


def test_two_processes_recording_at_once_lose_nothing(tmp_path, caplog):
    path = tmp_path / "index" / "feedback.jsonl"
    runs = [subprocess.Popen([sys.executable, "-c", RECORD, str(path), name], cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    with caplog.at_level(logging.WARNING):
        entries = FeedbackLog(path).entries()
    assert not caplog.records          # no line broken by the other writer
    assert sorted(e.question for e in entries) == sorted(f"{n} {i}?" for n in "ab" for i in range(150))
    assert len(path.read_text(encoding="utf-8").splitlines()) == 300


# --- feedback -> question set -------------------------------------------------------------


def test_each_verdict_becomes_the_question_it_implies():
    assert feedback_question(right()) | {"feedback": None} == {
        "id": feedback_question(right())["id"], "question": "Wo finden die Gespräche statt?",
        "answers": ["Genf"], "doc_id": SEED, "answer_start": 10, "answer_end": 14, "lang": "de",
        "verdict": "right", "feedback": None}
    corrected = feedback_question(Feedback(question="Wann beginnen die Gespräche?", verdict="wrong",
                                           answer="Sonntag", correct_answer="am 9. Januar", doc_id=SEED,
                                           start=1, end=8))
    assert corrected["answers"] == ["am 9. Januar"] and "doc_id" not in corrected and "answer_start" not in corrected
    assert corrected["feedback"]["answer"] == "Sonntag"
    # A refusal confirmed as right: the articles hold no answer.
    assert feedback_question(Feedback(question="Wer gewann die WM 2014?", verdict="right"))["answers"] == []
    assert feedback_question(Feedback(question="Wer gewann die WM 2014?", verdict="right", answer="Biden",
                                      tier="none"))["answers"] == []
    # Wrong, and the right answer unknown: nothing to score against.
    assert feedback_question(Feedback(question="Wo?", verdict="wrong", answer="Genf")) is None


def test_a_follow_up_is_exported_resolved_and_the_latest_word_wins():
    history = ("Wer hat Selenskyj Unterstützung zugesichert?",)
    entries = [
        right(question="Und wann?", answer="Sonntag", history=history),
        Feedback(question="Wo?", verdict="wrong", answer="Genf"),
        right(),
        Feedback(question="wann hat  Selenskyj Unterstützung zugesichert?", verdict="wrong",
                 answer="Sonntag", correct_answer="am späten Sonntagabend"),
    ]
    export = feedback_questions(entries)
    assert (export.without_gold, export.superseded) == (1, 1)
    assert [q["question"] for q in export.questions] == [
        "Wo finden die Gespräche statt?", "wann hat Selenskyj Unterstützung zugesichert?"]
    assert export.questions[1]["answers"] == ["am späten Sonntagabend"]
    followup = feedback_question(entries[0])
    assert followup["question"] == "Wann hat Selenskyj Unterstützung zugesichert?"
    assert followup["feedback"]["asked"] == "Und wann?" and followup["feedback"]["history"] == list(history)
    assert followup["id"] == export.questions[1]["id"]    # stable: the same question, the same id
    assert "1 'wrong' entries skipped" in export.summary()


def test_the_written_set_loads_as_a_question_set(tmp_path):
    export = feedback_questions([right(), Feedback(question="Wer gewann die WM 2014?", verdict="right")])
    out = tmp_path / "sets" / "fb.jsonl"
    write_question_set(export, out)
    dataset = load_dataset(out)
    assert dataset.format == "jsonl" and [q.answers for q in dataset.questions] == [("Genf",), ()]
    assert dataset.questions[0].context_id == SEED and dataset.questions[0].extras["verdict"] == "right"
    (tmp_path / "dir.jsonl").mkdir()
    for bad, message in ((tmp_path / "fb.json", "give a .jsonl file name"), (tmp_path / "dir.jsonl", "a folder")):
        with pytest.raises(QAError, match=message):
            write_question_set(export, bad)
    with pytest.raises(QAError, match="no feedback names a gold answer"):
        write_question_set(feedback_questions([Feedback(question="Wo?", verdict="wrong")]), tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()


# --- the command line ---------------------------------------------------------------------


def test_qa_feedback_list_and_export_then_qa_eval_runs_the_set(tmp_path, capsys):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / SEED).write_bytes((REPO_ROOT / "seeds" / SEED).read_bytes())
    log = FeedbackLog(feedback_path(index_dir))
    log.record(right(question="Wo finden die Gespräche der USA mit Russland statt?", answer="Genf"))
    log.record(Feedback(question="Wer gewann die Fußball-WM 2014?", verdict="right", tier="none"))
    log.record(Feedback(question="Wie viele Menschen sind im Donbass getötet worden?", verdict="wrong",
                        answer="13", correct_answer="Mehr als 13 000"))
    log.record(Feedback(question="Wer ist \x1b]0;gehackt\x07Biden?", verdict="wrong", answer="\x1b[2JPutin"))

    assert main(["feedback", "list", "--index-dir", str(index_dir)]) == 0
    out = capsys.readouterr().out
    assert "right  confident 0.90" in out and "→ Genf" in out and "(right: Mehr als 13 000)" in out
    assert "\x1b" not in out     # what users typed cannot drive the terminal
    assert out.rstrip().endswith("4 entries in " + str(feedback_path(index_dir)) + ": 2 right, 2 wrong "
                                 "(1 with the right answer); qa feedback export makes 3 questions of them")
    assert main(["feedback", "list", "--index-dir", str(index_dir), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["verdict"] for e in listed["entries"]] == ["right", "right", "wrong", "wrong"]

    questions = tmp_path / "fb.jsonl"
    assert main(["feedback", "export", "--index-dir", str(index_dir), "--out", str(questions)]) == 0
    assert "3 questions (2 answerable, 1 without an answer in the articles); 1 'wrong'" in capsys.readouterr().out
    run = tmp_path / "run"
    script = {"Wo finden die Gespräche der USA mit Russland statt?": "Genf",
              "Wie viele Menschen sind im Donbass getötet worden?": "Mehr als 13 000"}
    reader = FakeReader(answer_for=script.get)
    assert main(["eval", str(questions), "--corpus", str(corpus), "--index-dir", str(index_dir),
                 "--out", str(run)], load_system=fake_loader(reader=reader)) == 0
    capsys.readouterr()
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [p["answers"] for p in predictions] == [["Genf"], [], ["Mehr als 13 000"]]
    assert [p["em"] for p in predictions if p["answers"]] == [1.0, 1.0]
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["breakdowns"]["verdict"]) == {"right", "wrong"}


@pytest.mark.parametrize("argv, message", [
    (["feedback", "export", "--out", "{tmp}/q.jsonl", "--index-dir", "{tmp}/empty"], "no feedback in"),
    (["feedback", "export", "--out", "{tmp}/q.json", "--file", "{tmp}/fb.jsonl"], "give a .jsonl file name"),
    (["feedback", "export", "--out", "{tmp}/fb.jsonl", "--file", "{tmp}/fb.jsonl"], "is the feedback file itself"),
    (["feedback", "list", "--file", "{tmp}/missing.jsonl"], "--file .*missing.jsonl: no such file"),
])
def test_cli_mistakes_are_one_line_and_write_nothing(tmp_path, capsys, argv, message):
    FeedbackLog(tmp_path / "fb.jsonl").record(right())
    before = (tmp_path / "fb.jsonl").read_bytes()
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qa feedback: error: ") and err.count("\n") == 1
    assert re.search(message, err)
    assert not (tmp_path / "q.jsonl").exists() and not (tmp_path / "q.json").exists()
    assert (tmp_path / "fb.jsonl").read_bytes() == before
