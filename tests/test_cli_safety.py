"""The terminal shows articles as text, and a mistake is one line and exit 2, never a traceback."""
from __future__ import annotations

import os
import stat

import pytest

from qa.commands.main import main
from qa.commands.output import printable
from tests.fakes import fake_loader

HOSTILE = ("Harmloser Titel\x1b]0;gekapert\x07\n\nDer Rat tagt in Genf.\x1b[2J\x1b[H Danach "
           "\x9b31mrot\x1b[0m und\x07 eine Glocke.\n")


def test_printable_drops_escape_sequences_and_control_characters():
    shown = printable(HOSTILE + "\r\nZeile\tmit Tab")
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown and "\r" not in shown
    assert "Der Rat tagt in Genf." in shown and "Zeile\tmit Tab" in shown and "gekapert" not in shown


@pytest.fixture
def hostile_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "hostile.txt").write_text(HOSTILE, encoding="utf-8")
    (corpus / "other.txt").write_text("Anderes\n\nIn Paris beraten die Minister.\n", encoding="utf-8")
    return corpus


@pytest.mark.parametrize("argv", [["search", "Wo tagt der Rat?"], ["list"], ["ask", "Wo tagt der Rat?"]])
def test_article_text_reaches_the_terminal_without_escape_sequences(hostile_corpus, tmp_path, capsys, argv):
    assert main(["index", str(hostile_corpus), "--index-dir", str(tmp_path / "index")],
                load_system=fake_loader()) == 0
    capsys.readouterr()
    code = main([*argv, "--corpus", str(hostile_corpus), "--index-dir", str(tmp_path / "index")],
                load_system=fake_loader())
    out = capsys.readouterr().out
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "Harmloser Titel" in out


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "Traceback" not in "\n".join(err)
    return err[-1]


def test_a_question_of_bytes_that_are_not_utf8_is_one_line(capsys):
    assert main(["ask", "\udcff"], load_system=fake_loader()) == 2    # how argv holds b"\xff"
    assert "UTF-8" in one_line_error(capsys)


@pytest.mark.parametrize("command", [["list"], ["search", "Genf"], ["index"], ["add", "NEW"]])
def test_an_index_folder_that_cannot_be_one_is_one_line(hostile_corpus, tmp_path, capsys, command):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    new = tmp_path / "new.txt"
    new.write_text("Neu\n\nIn Genf tagt der Rat.\n", encoding="utf-8")
    command = [str(new) if part == "NEW" else part for part in command]
    corpus = [] if command[0] == "index" else ["--corpus", str(hostile_corpus)]
    if command[0] == "index":
        command = [*command, str(hostile_corpus)]
    for index_dir in (a_file / "index", "/proc/qa-index"):
        code = main([*command, *corpus, "--index-dir", str(index_dir)], load_system=fake_loader())
        assert code == 2, command
        line = one_line_error(capsys)
        assert line.startswith(f"qa {command[0]}: error:") and str(index_dir) in line


def test_added_articles_get_the_umask_mode_not_0600(tmp_path, capsys):
    corpus, new = tmp_path / "corpus", tmp_path / "new"
    new.mkdir()
    (new / "artikel.txt").write_text("Titel\n\nIn Genf tagt der Rat.\n", encoding="utf-8")
    old_mask = os.umask(0o022)
    try:
        assert main(["add", str(new), "--corpus", str(corpus), "--index-dir", str(tmp_path / "i")],
                    load_system=fake_loader()) == 0
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE((corpus / "artikel.txt").stat().st_mode) == 0o644
