"""``qa eval`` and ``qa eval-compare`` end to end through ``main(argv)``, with fake systems.

``main`` is given a ``load_system`` that builds a QASystem of fakes over the documents it is
asked for (constructor injection), so the command's own wiring (dataset → corpus → runner →
files) is exercised.
"""
from __future__ import annotations

import json
import re
import string
from collections import Counter
from pathlib import Path

import pytest

from qa.commands.main import main
from qa.evaluation.compare import compare_runs
from qa.evaluation.report import load_run
from qa.system import QASystem
from tests.fakes import FakeRetriever, LoaderSpy, ScriptedPipeline, ScriptedReader, tiny_squad

SCRIPT = {
    "Wo finden die Gespräche statt?": "Genf",
    "Wer ist der US-Sondergesandte?": "Witkoff",
    "Wie viele Menschen sind im Donbass getötet worden?": "13 000 Menschen",
    "Wann wurde die NATO gegründet?": "Washington",
    "Where do the talks take place?": "Genf",
}


@pytest.fixture()
def squad_file(tmp_path) -> Path:
    data = tiny_squad(impossible=("q-hq",))
    # Markup in a question must reach report.html escaped.
    data["data"][1]["paragraphs"][0]["qas"][1]["question"] = "Welche <b>Stadt</b> & <script>x</script>?"
    path = tmp_path / "tiny.de.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def scripted_loader(script: dict[str, str]):
    """A ``load_system`` for ``qa eval``: the parts asked for, as fakes over ``documents``
    (none without --corpus-from-dataset) answering from ``script``."""
    def load(settings, *, parts="all", documents=None, **options):
        reader = ScriptedReader(script)
        retriever = FakeRetriever(list(documents or ()))
        if parts == "reader":
            return QASystem(settings, reader=reader)
        if parts == "retrieval":
            return QASystem(settings, retriever=retriever)
        return QASystem(settings, pipeline=ScriptedPipeline(retriever, reader))

    return load


@pytest.fixture()
def fake_system():
    """The fakes' loader; records what the command asked for (``.calls``)."""
    return LoaderSpy(scripted_loader(SCRIPT))


# An independent scorer, written from the SQuAD v1.1 script, to check metrics.json.
def squad_normalise(s: str) -> str:
    s = "".join(ch for ch in s.lower() if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def squad_f1(prediction: str, gold: str) -> float:
    p, g = squad_normalise(prediction).split(), squad_normalise(gold).split()
    if not p or not g:
        return float(p == g)
    same = sum((Counter(p) & Counter(g)).values())
    if not same:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def independent_scores(predictions: list[dict]) -> tuple[float, float]:
    ems, f1s = [], []
    for p in predictions:
        if not p["answers"]:
            ems.append(float(p["abstained"]))
            f1s.append(float(p["abstained"]))
        elif p["abstained"]:
            ems.append(0.0)
            f1s.append(0.0)
        else:
            ems.append(max(float(squad_normalise(p["prediction"]) == squad_normalise(g)) for g in p["answers"]))
            f1s.append(max(squad_f1(p["prediction"], g) for g in p["answers"]))
    return 100 * sum(ems) / len(ems), 100 * sum(f1s) / len(f1s)


def test_end_to_end_run_writes_a_consistent_run_folder(squad_file, tmp_path, fake_system, capsys):
    out = tmp_path / "runs" / "a"
    assert main(["eval", str(squad_file), "--corpus-from-dataset", "--out", str(out)],
                load_system=fake_system) == 0
    printed = capsys.readouterr().out
    assert "EM / F1 (SQuAD normalisation)" in printed and "by question type" in printed
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "predictions.jsonl", "report.html"]
    assert fake_system.calls[0]["parts"] == "all" and len(fake_system.calls[0]["documents"]) == 3
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]   # no temp folders left

    metrics, predictions = load_run(out)
    assert len(predictions) == metrics["run"]["questions"] == 5
    assert metrics["run"]["system"] == "pipeline over the dataset's 3 contexts, reader scripted-reader"
    em, f1 = independent_scores(predictions)
    assert metrics["answers"]["em"] == pytest.approx(em)
    assert metrics["answers"]["f1"] == pytest.approx(f1)
    assert em == pytest.approx(40.0)           # Genf right; the no-answer question abstained
    first = predictions[0]
    for key in ("id", "question", "answers", "prediction", "score", "abstained", "em", "f1", "retrieved",
                "cited", "latency_ms", "extras"):
        assert key in first
    assert first["cited"]["doc_id"] == "tiny-de-a0-p0" and first["retrieved"][0]["doc_id"]
    assert metrics["retrieval"]["relevance"] == "document"

    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert page.count("data:image/png;base64,") == 4      # by question type, latency, risk-coverage, calibration
    assert 'alt="risk-coverage"' in page
    assert "<mark>Genf</mark>" in page          # the cited span, marked in the passage read


def test_json_output_is_one_object(squad_file, fake_system, capsys):
    assert main(["eval", str(squad_file), "--mode", "reader", "--json", "--articles", "0", "--limit", "2"],
                load_system=fake_system) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["run"]["mode"] == "reader" and metrics["run"]["questions"] == 2
    assert metrics["run"]["articles"] == "0" and metrics["run"]["system"] == "reader scripted-reader"
    assert metrics["answers"]["em"] == 50.0      # Genf exact, Witkoff partial
    assert fake_system.calls[0]["parts"] == "reader" and fake_system.calls[0]["documents"] is None


def test_english_questions_over_german_contexts(squad_file, tmp_path, fake_system, capsys):
    english = tmp_path / "tiny.en.json"
    english.write_text(json.dumps(tiny_squad(lang="en")), encoding="utf-8")
    assert main(["eval", str(squad_file), "--questions-from", str(english), "--mode", "reader",
                 "--articles", "0", "--json"], load_system=fake_system) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["run"]["questions"] == 3
    assert list(metrics["breakdowns"]["question_type"]) == ["English"]
    assert metrics["answers"]["em"] == pytest.approx(100 / 3)


def test_retrieval_mode_over_qrels(tmp_path, fake_system, capsys):
    (tmp_path / "gq").mkdir()
    (tmp_path / "gq" / "corpus.jsonl").write_text(
        '{"_id": "c1", "text": "Der Aufzug fährt seillos."}\n{"_id": "c2", "text": "Ein Turm in Rottweil."}\n',
        encoding="utf-8")
    (tmp_path / "gq" / "queries.jsonl").write_text('{"_id": "q1", "text": "Wo steht der Turm?"}\n', encoding="utf-8")
    (tmp_path / "gq" / "qrels").mkdir()
    (tmp_path / "gq" / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tc2\t1\n", encoding="utf-8")
    assert main(["eval", str(tmp_path / "gq"), "--mode", "retrieval", "--corpus-from-dataset", "--json"],
                load_system=fake_system) == 0
    metrics = json.loads(capsys.readouterr().out)
    retrieval = metrics["retrieval"]
    assert metrics["run"]["system"] == "retriever over the dataset's 2 contexts"
    assert retrieval["recall@1"] == 100.0 and retrieval["ndcg@10"] == 1.0
    assert main(["eval", str(tmp_path / "gq"), "--mode", "end-to-end", "--corpus-from-dataset"],
                load_system=fake_system) == 2
    assert "use --mode retrieval" in capsys.readouterr().err


@pytest.mark.parametrize("content, expected", [
    ('{"id": "a", "question": "Q?", "answers": []}\n{"id": "b", "question": \n', "bad.jsonl:2: invalid JSON"),
    ('{"id": "a", "answers": []}\n', "bad.jsonl:1: missing 'question'"),
    ('{"id": "a", "question": "Q?", "answers": "x"}\n', "bad.jsonl:1: 'answers' must be a list"),
    ("", "bad.jsonl: the file is empty"),
])
def test_malformed_input_is_one_line_and_writes_nothing(tmp_path, fake_system, capsys, content, expected):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["eval", str(bad), "--out", str(out)], load_system=fake_system) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    assert fake_system.calls == []                 # nothing was loaded either


def test_refuses_an_out_folder_with_other_files(squad_file, tmp_path, fake_system, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    assert main(["eval", str(squad_file), "--corpus-from-dataset", "--out", str(out)],
                load_system=fake_system) == 2
    assert "other files" in capsys.readouterr().err
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert fake_system.calls == []


def test_corpus_from_dataset_needs_contexts(tmp_path, fake_system, capsys):
    plain = tmp_path / "q.jsonl"
    plain.write_text('{"id": "a", "question": "Wo?", "answers": ["Genf"]}\n', encoding="utf-8")
    assert main(["eval", str(plain), "--corpus-from-dataset"], load_system=fake_system) == 2
    assert "--corpus-from-dataset needs contexts" in capsys.readouterr().err


def test_an_index_over_another_corpus_is_named_with_its_corpus(tmp_path, fake_system, capsys):
    plain = tmp_path / "q.jsonl"
    plain.write_text('{"id": "a", "question": "Wo?", "answers": ["Genf"]}\n', encoding="utf-8")
    corpus = tmp_path / "articles"
    corpus.mkdir()
    assert main(["eval", str(plain), "--corpus", str(corpus), "--index-dir", str(tmp_path / "idx")],
                load_system=fake_system) == 0
    settings = fake_system.settings[-1]
    assert settings.corpus_dir == corpus and settings.index_dir == tmp_path / "idx"
    capsys.readouterr()
    assert main(["eval", str(plain), "--corpus", str(tmp_path / "missing")], load_system=fake_system) == 2
    assert "no such folder" in capsys.readouterr().err


def test_eval_compare_reports_deltas_and_changed_questions(squad_file, tmp_path, fake_system, capsys):
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    assert main(["eval", str(squad_file), "--corpus-from-dataset", "--out", str(run_a)],
                load_system=fake_system) == 0
    better = dict(SCRIPT, **{"Wer ist der US-Sondergesandte?": "Steve Witkoff",
                             "Wo finden die Gespräche statt?": "Bern"})
    assert main(["eval", str(squad_file), "--corpus-from-dataset", "--out", str(run_b)],
                load_system=scripted_loader(better)) == 0
    capsys.readouterr()

    assert main(["eval-compare", str(run_a), str(run_b)], load_system=fake_system) == 0
    printed = capsys.readouterr().out
    assert "answers.f1" in printed and "q-witkoff" in printed
    assert "q-genf" in printed          # Genf → abstained (no "Bern" in the passages): EM flip
    assert "q-donbass" not in printed   # abstained in both runs

    assert main(["eval-compare", str(run_a), str(run_b), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    changed = {c["id"]: c["reasons"] for c in payload["changed"]}
    assert changed == {"q-genf": ["em", "abstained", "f1"], "q-witkoff": ["em"]}
    f1 = next(m for m in payload["metrics"] if m["name"] == "answers.f1")
    assert f1["delta"] == pytest.approx(f1["b"] - f1["a"])

    assert main(["eval-compare", str(run_a), str(tmp_path / "missing")]) == 2
    assert "metrics.json: missing" in capsys.readouterr().err


def test_compare_runs_flags_large_f1_moves_only():
    base = {"id": "x", "question": "Q", "em": 0.0, "abstained": False, "prediction": "a"}
    a = [dict(base, f1=0.2), dict(base, id="y", f1=0.2)]
    b = [dict(base, f1=0.8), dict(base, id="y", f1=0.6)]
    comparison = compare_runs({}, a, {}, b)
    assert [c.id for c in comparison.changed] == ["x"]
    assert comparison.changed[0].reasons == ("f1",)


def test_bad_articles_spec_is_a_one_line_error(squad_file, fake_system, capsys):
    assert main(["eval", str(squad_file), "--articles", "47-40"], load_system=fake_system) == 2
    err = capsys.readouterr().err.strip()
    assert "--articles '47-40'" in err and len(err.splitlines()) == 1
    assert fake_system.calls == []


@pytest.mark.parametrize("option, message", [
    (["--k", "0"], "k (passages to read) must be 1-50"),
    (["--k", "51"], "k (passages to read) must be 1-50"),
    (["--top-n", "11"], "top_n (answers) must be 1-10"),
])
def test_limits_out_of_range_are_refused_before_anything_loads(squad_file, fake_system, capsys, option, message):
    # the system's own limits (qa.system.check_limits): past them every question would fail
    assert main(["eval", str(squad_file), *option], load_system=fake_system) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert fake_system.calls == []


TIERS_A = {
    "Wo finden die Gespräche statt?": ("Genf", 0.9, "confident"),
    "Wer ist der US-Sondergesandte?": ("Steve Witkoff", 0.7, "confident"),
    "Wie viele Menschen sind im Donbass getötet worden?": ("13 000", 0.4, "none"),
    "Wann wurde die NATO gegründet?": ("Washington", 0.6, "uncertain"),
    "Welche <b>Stadt</b> & <script>x</script>?": ("Brüssel", 0.8, "confident"),
}
# B grades Witkoff uncertain and refuses the no-answer question: higher precision, same answers.
TIERS_B = dict(TIERS_A, **{"Wer ist der US-Sondergesandte?": ("Steve Witkoff", 0.55, "uncertain"),
                           "Welche <b>Stadt</b> & <script>x</script>?": ("Brüssel", 0.1, "none")})


@pytest.fixture()
def tiered_runs(squad_file, tmp_path, capsys):
    """Two run folders of a graded fake pipeline (TIERS_A, TIERS_B)."""
    from tests.fakes import TieredPipeline

    runs = {}
    for name, table in (("a", TIERS_A), ("b", TIERS_B)):
        def load(settings, *, parts="all", documents=None, table=table, **options):
            return QASystem(settings, pipeline=TieredPipeline(FakeRetriever(list(documents or ())), table))

        runs[name] = tmp_path / name
        assert main(["eval", str(squad_file), "--corpus-from-dataset", "--out", str(runs[name])],
                    load_system=load) == 0
    runs["printed"] = capsys.readouterr().out
    return runs


def test_eval_writes_the_selective_figures_and_per_question_tiers(tiered_runs):
    metrics, predictions = load_run(tiered_runs["a"])
    selective = metrics["selective"]
    # By confidence: Genf 0.9 right, Brüssel 0.8 (no-answer) wrong, Witkoff 0.7 right,
    # Washington 0.6 wrong, "13 000" 0.4 right (F1 2/3 against "mehr als 13 000"); 4 answerable.
    assert [p["threshold"] for p in selective["curve"]] == [0.9, 0.8, 0.7, 0.6, 0.4]
    assert selective["aurc"] == pytest.approx(25 * 1 + 0 + 25 * 2 / 3 + 25 * 2 / 4 + 25 * 3 / 5)
    assert selective["coverage_at_90"] == 25.0
    assert selective["share_by_tier"]["answerable"] == {"confident": 50.0, "uncertain": 25.0, "none": 25.0}
    assert selective["f1_never_refuse"] == pytest.approx(100 * (1 + 1 + 2 / 3 + 0 + 0) / 5)
    assert selective["f1_with_refusals"] == pytest.approx(metrics["answers"]["f1_de"])
    assert metrics["breakdowns"]["answerable"]["no answer"]["tier_confident"] == 100.0
    by_id = {p["id"]: p for p in predictions}
    assert by_id["q-donbass"]["tier"] == "none" and by_id["q-donbass"]["prediction"] == ""
    assert by_id["q-donbass"]["candidate"] == "13 000" and by_id["q-donbass"]["candidate_f1"] == pytest.approx(2 / 3)
    assert by_id["q-hq"]["candidate_f1"] is None
    printed = tiered_runs["printed"]
    assert "AURC" in printed and "never refuse" in printed and "coverage at 90 % precision" in printed
    assert 'alt="risk-coverage"' in (tiered_runs["a"] / "report.html").read_text(encoding="utf-8")


def test_eval_compare_shows_selective_deltas_and_tier_changes(tiered_runs, capsys):
    assert main(["eval-compare", str(tiered_runs["a"]), str(tiered_runs["b"])]) == 0
    printed = capsys.readouterr().out
    assert "selective.aurc" in printed and "selective.coverage_at_90" in printed
    assert "selective.share_by_tier.unanswerable.none" in printed and "selective.f1_never_refuse" in printed
    assert "2 question(s) changed tier" in printed
    assert "confident → none 1" in printed and "confident → uncertain 1" in printed
    assert "curve" not in printed

    assert main(["eval-compare", str(tiered_runs["a"]), str(tiered_runs["b"]), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    moves = {c["id"]: (c["tier_a"], c["tier_b"]) for c in payload["tier_changes"]}
    assert moves == {"q-witkoff": ("confident", "uncertain"), "q-hq": ("confident", "none")}
    deltas = {m["name"]: m for m in payload["metrics"]}
    # A: Genf .9, Brüssel .8 (wrong), Witkoff .7, Washington .6 (wrong), 13 000 .4.
    # B: Genf .9, Washington .6 (wrong), Witkoff .55, 13 000 .4, Brüssel .1 (wrong).
    aurc_a = 25 * 1 + 0 + 25 * 2 / 3 + 25 * 2 / 4 + 25 * 3 / 5
    aurc_b = 25 * 1 + 25 * 1 / 2 + 25 * 2 / 3 + 25 * 3 / 4 + 0
    assert (deltas["selective.aurc"]["a"], deltas["selective.aurc"]["b"]) == (pytest.approx(aurc_a), pytest.approx(aurc_b))
    assert deltas["selective.coverage_at_90"]["delta"] == 0.0
    assert deltas["selective.share_by_tier.unanswerable.none"]["delta"] == pytest.approx(100.0)
    assert deltas["selective.share_by_tier.answerable.uncertain"]["delta"] == pytest.approx(25.0)
    assert deltas["selective.f1_never_refuse"]["delta"] == pytest.approx(0.0)


def test_runs_written_before_tiers_still_compare(tiered_runs, capsys):
    old = tiered_runs["a"].parent / "old"
    old.mkdir()
    metrics, predictions = load_run(tiered_runs["a"])
    del metrics["selective"]
    for group in metrics["breakdowns"].values():
        for figures in group.values():
            for key in ("aurc", "coverage_at_90", "tier_confident", "tier_uncertain", "tier_none", "share_by_tier"):
                figures.pop(key, None)
    (old / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (old / "predictions.jsonl").write_text("".join(
        json.dumps({k: v for k, v in p.items() if k not in ("tier", "candidate", "candidate_f1")}) + "\n"
        for p in predictions), encoding="utf-8")
    for a, b in ((old, tiered_runs["b"]), (tiered_runs["b"], old)):
        assert main(["eval-compare", str(a), str(b), "--json"]) == 0
        payload = json.loads(capsys.readouterr().out)
        assert payload["tier_changes"] == []
        aurc = next(m for m in payload["metrics"] if m["name"] == "selective.aurc")
        assert aurc["delta"] is None and None in (aurc["a"], aurc["b"])
    assert main(["eval-compare", str(old), str(tiered_runs["b"])]) == 0
    assert "changed tier" not in capsys.readouterr().out
    from qa.evaluation.report import format_summary
    assert "AURC" not in format_summary(metrics)


@pytest.mark.parametrize("option", ["--corpus", "--index-dir"])
def test_an_empty_folder_option_is_refused_before_anything_runs(tmp_path, fake_system, capsys, option):
    # Path("") is the current folder: an index there would be "brought up to date" with it
    plain = tmp_path / "q.jsonl"
    plain.write_text('{"id": "a", "question": "Wo?", "answers": ["Genf"]}\n', encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["eval", str(plain), option, " "], load_system=fake_system)
    assert stop.value.code == 2 and "empty path" in capsys.readouterr().err
    assert fake_system.calls == []
