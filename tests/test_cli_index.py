"""End-to-end CLI tests for ``qa index`` and ``qa search`` through ``main(argv)``."""
import json
import shutil

import pytest

from qa.cli import main


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_empty_question_is_one_line_on_stderr(capsys, tmp_path):
    assert main(["search", "   ", "--index-dir", str(tmp_path / "idx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "question is empty" in err[0]


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
    assert data["question"] == question and len(data["hits"]) == 5
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
