"""End-to-end CLI tests for ``qa index`` and ``qa search`` through ``main(argv)``."""
import functools
import json
import shutil

import pytest

from qa.commands.main import main
from tests.fakes import LoaderSpy, fake_loader


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["search", "   "], "Please type a question"),
    (["search", "x" * 1001], "1\u202f001 characters"),
    (["search", "Wo?", "--k", "0"], "k (passages to read) must be 1-50"),
    (["search", "Wo?", "--k", "51"], "k (passages to read) must be 1-50"),
])
def test_bad_search_input_is_one_line_on_stderr_before_anything_loads(capsys, tmp_path, argv, message):
    spy = LoaderSpy(fake_loader())
    assert main([*argv, "--index-dir", str(tmp_path / "idx")], load_system=spy) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert spy.calls == []


def test_missing_corpus_is_a_clear_error(capsys, tmp_path):
    assert main(["-q", "index", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "idx")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "Traceback" not in err


@pytest.mark.slow
def test_index_then_search_json_and_text(capsys, tmp_path, seeds_dir, e5_embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(seeds_dir, corpus)
    idx = tmp_path / "idx"
    assert main(["-q", "index", str(corpus), "--index-dir", str(idx)]) == 0
    out = capsys.readouterr().out
    assert "rebuilt" in out and "4 documents" in out
    assert main(["-q", "index", str(corpus), "--index-dir", str(idx)]) == 0
    assert "up to date" in capsys.readouterr().out

    question = "Wie viele Menschen sind im Donbass getötet worden?"
    assert main(["-q", "search", question, "--corpus", str(corpus), "--index-dir", str(idx), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["question"] == question and len(data["hits"]) == 3  # the default k
    top = data["hits"][0]
    assert "Mehr als 13 000 Menschen" in top["text"]
    text = (corpus / top["doc_id"]).read_text(encoding="utf-8")
    assert text[top["start"]:top["end"]] == top["text"]

    assert main(["-q", "search", question, "--corpus", str(corpus), "--index-dir", str(idx), "--k", "2"]) == 0
    human = capsys.readouterr().out
    assert human.startswith("[1] ") and "[2] " in human and "[3] " not in human

    # a changed corpus with --no-rebuild: the stale index is used and the CLI says what changed
    (corpus / "extra.txt").write_text("Ein neuer Artikel über Genf.", encoding="utf-8")
    assert main(["search", question, "--corpus", str(corpus), "--index-dir", str(idx), "--no-rebuild"]) == 0
    assert "corpus changed" in capsys.readouterr().err


def test_search_modes_filters_and_pages(monkeypatch, tmp_path, capsys):
    from tests.test_ingest_formats import _pdf

    run = functools.partial(main, load_system=fake_loader())   # QASystem.load with the fake embedder
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("GENF (dpa) - Gespräche in Genf über Sicherheit.\nVon dpa Aktualisiert am "
                                  "04.09.2025 - 14:07 Uhr\n\nDie USA sprechen in Genf mit Russland.", encoding="utf-8")
    (corpus / "b.txt").write_text("Nato-Gipfel\n\nDer Nato-Gipfel in Vilnius berät über Genf.", encoding="utf-8")
    (corpus / "c.pdf").write_bytes(_pdf([["Bericht aus Brüssel"], ["Die Nato berät in Brüssel über Waffen."]]))
    opts = ["--corpus", str(corpus), "--index-dir", str(tmp_path / "idx")]
    assert run(["-q", "index", str(corpus), "--index-dir", str(tmp_path / "idx")]) == 0
    out = capsys.readouterr().out
    assert "rebuilt" in out and "3 documents" in out and "index type flat" in out and "retrieval hybrid" in out

    assert run(["-q", "search", "Genf Russland", *opts, "--json", "--mode", "bm25", "--outlet", "DPA"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["retrieval"] == "bm25" and data["index_kind"] == "flat" and data["filters"] == {"outlet": ["DPA"]}
    assert {h["doc_id"] for h in data["hits"]} == {"a.txt"}
    assert run(["-q", "search", "Genf", *opts, "--json", "--since", "2025-01-01", "--until", "2025-12-31"]) == 0
    assert {h["doc_id"] for h in json.loads(capsys.readouterr().out)["hits"]} == {"a.txt"}
    assert run(["-q", "search", "Genf", *opts, "--doc", "b.txt", "--mode", "dense", "--json"]) == 0
    assert {h["doc_id"] for h in json.loads(capsys.readouterr().out)["hits"]} == {"b.txt"}
    assert run(["-q", "search", "Genf", *opts, "--since", "2030-01-01"]) == 0
    assert "no passages found (the filters leave no document)" in capsys.readouterr().out
    assert run(["-q", "search", "Waffen in Brüssel", *opts, "--k", "1"]) == 0
    human = capsys.readouterr().out
    assert "c.pdf" in human and "pages 1-2" in human and "page_starts" not in human

    assert run(["-q", "search", "Genf", *opts, "--since", "4.9.2025"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert run(["-q", "search", "Genf", *opts, "--doc", "zzz.txt"]) == 2
    assert "unknown document" in capsys.readouterr().err
    monkeypatch.setenv("QA_RETRIEVAL_MODE", "sparse")
    assert run(["-q", "search", "Genf", *opts]) == 2
    assert "retrieval mode" in capsys.readouterr().err
