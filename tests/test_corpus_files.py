"""Only regular files inside the corpus folder are read: no FIFOs, devices or links out, a size
limit before reading, hidden files refused by qa add, hostile HTML refused or read in linear time.

Reading a FIFO blocks and reading /dev/zero never ends, so the cases that could hang or eat
memory run in a child process with a deadline and a memory limit: on a regression the test
fails instead of taking the machine with it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest

from embeddings.documents import MAX_BYTES, load_corpus, load_document
from embeddings.errors import QAError
from qa.commands.main import main
from tests.fakes import LoaderSpy, fake_loader

REPO = Path(__file__).resolve().parent.parent
ARTICLE = "Gespräche in Genf\n\nIn Genf sprechen die USA mit Russland über Sicherheit. Die Delegation tagt.\n"
OTHER = "Nato-Gipfel in Vilnius\n\nDer Gipfel berät über Waffenlieferungen an die Ukraine. Kiew hofft.\n"

needs_posix = pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(),
                                 reason="FIFOs and /dev/zero are POSIX")

# Loads ``argv[1]`` as a corpus (or, with ``html``, extracts ``argv[2]`` as HTML) and prints the
# doc ids, the WARNING lines and an error as JSON.
_CHILD = textwrap.dedent("""
    import json, logging, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (768 * 2**20, 768 * 2**20))
    from embeddings.errors import QAError
    warnings = []
    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno == logging.WARNING:
                warnings.append(record.getMessage())
    logging.getLogger().addHandler(Collect())
    result = {"ids": [], "error": None}
    try:
        if sys.argv[1] == "html":
            from embeddings.formats import html_article
            data = open(sys.argv[2], "rb").read()
            result["ids"] = [html_article(data, source=sys.argv[2]).text]
        else:
            from embeddings.documents import load_corpus
            result["ids"] = [doc.doc_id for doc in load_corpus(sys.argv[1])]
    except QAError as error:
        result["error"] = str(error)
    result["warnings"] = warnings
    print(json.dumps(result))
""")


def in_child(*args: str, seconds: float = 30) -> dict:
    """Run ``_CHILD`` on ``args`` with a deadline (a hang fails the test, it does not block it)."""
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, *args], cwd=REPO, capture_output=True,
                              text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        done = None
    if done is None:
        pytest.fail(f"reading {args} did not finish in {seconds} s (blocked or too slow)")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@contextmanager
def deadline(seconds: int):
    """Interrupt a blocking call (opening a FIFO) in this process instead of hanging the suite."""
    def expire(signum, frame):
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "genf.txt").write_text(ARTICLE, encoding="utf-8")
    return folder


def one_warning(result: dict, name: str) -> str:
    about = [w for w in result["warnings"] if name in w]
    assert len(about) == 1, result["warnings"]
    assert "\n" not in about[0]
    return about[0]


# ---- special files in the corpus folder -----------------------------------------------------

@needs_posix
def test_a_fifo_in_the_corpus_is_skipped_with_a_warning_not_opened(corpus: Path) -> None:
    os.mkfifo(corpus / "f.txt")
    result = in_child(str(corpus))
    assert result["ids"] == ["genf.txt"]
    assert "a FIFO" in one_warning(result, "f.txt")
    with deadline(10), pytest.raises(QAError, match=r"f\.txt: .*a FIFO") as error:
        load_document(corpus / "f.txt")
    assert "\n" not in str(error.value)


@needs_posix
def test_a_link_to_dev_zero_is_skipped_not_read_forever(corpus: Path) -> None:
    (corpus / "z.txt").symlink_to("/dev/zero")
    result = in_child(str(corpus))
    assert result["ids"] == ["genf.txt"]
    assert "a link to a device" in one_warning(result, "z.txt")
    with pytest.raises(QAError, match=r"z\.txt: .*a link to a device \(/dev/zero\)"):
        load_document(corpus / "z.txt")


def test_a_link_to_a_file_outside_the_corpus_folder_is_skipped(corpus: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text(OTHER, encoding="utf-8")
    (corpus / "z.txt").symlink_to(outside)
    result = in_child(str(corpus))
    assert result["ids"] == ["genf.txt"]
    warning = one_warning(result, "z.txt")
    assert "a link to a file outside the corpus folder" in warning and str(outside) in warning


def test_a_link_to_a_file_inside_the_corpus_folder_is_read(corpus: Path) -> None:
    (corpus / "archiv").mkdir()
    (corpus / "archiv" / "nato.txt").write_text(OTHER, encoding="utf-8")
    (corpus / "nato.txt").symlink_to(Path("archiv") / "nato.txt")   # relative, inside
    (corpus / "genf-kopie.txt").symlink_to(corpus / "genf.txt")       # absolute, inside
    documents = {doc.doc_id: doc for doc in load_corpus(corpus)}
    assert sorted(documents) == ["genf-kopie.txt", "genf.txt", "nato.txt"]
    assert documents["nato.txt"].text == OTHER


def test_a_broken_link_is_skipped_with_its_reason(corpus: Path, caplog: pytest.LogCaptureFixture) -> None:
    (corpus / "weg.txt").symlink_to(corpus / "gone.txt")
    assert [doc.doc_id for doc in load_corpus(corpus)] == ["genf.txt"]
    assert any("weg.txt" in r.getMessage() and "broken link" in r.getMessage() for r in caplog.records)


# ---- the size limit -------------------------------------------------------------------------

def test_an_oversized_file_is_refused_from_its_size_before_reading(corpus: Path) -> None:
    big = corpus / "big.txt"
    with big.open("wb") as file:
        file.truncate(MAX_BYTES + 1)   # sparse: the size says too large, no byte need be read
    with pytest.raises(QAError, match=r"big\.txt: file is too large \(5,000,001 bytes > 5,000,000\)"):
        load_document(big)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_reading_is_capped_even_when_the_size_lies(tmp_path: Path) -> None:
    # /proc files are regular files of size 0 with content: only a capped read catches them.
    (tmp_path / "status.txt").symlink_to("/proc/self/status")
    with pytest.raises(QAError, match="too large"):
        load_document(tmp_path / "status.txt", max_bytes=16)


# ---- qa add ---------------------------------------------------------------------------------

@pytest.fixture
def cli(tmp_path: Path, corpus: Path) -> list[str]:
    (corpus / "nato.txt").write_text(OTHER, encoding="utf-8")
    opts = ["--corpus", str(corpus), "--index-dir", str(tmp_path / "index")]
    assert main(["-q", "index", str(corpus), "--index-dir", opts[3]], load_system=fake_loader()) == 0
    return opts


def test_qa_add_refuses_a_hidden_file_in_one_line(cli: list[str], tmp_path: Path, corpus: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "d").mkdir()
    hidden = tmp_path / "d" / ".hidden.txt"
    hidden.write_text(OTHER.replace("Vilnius", "Riga"), encoding="utf-8")
    capsys.readouterr()
    spy = LoaderSpy(fake_loader())
    assert main(["-q", "add", str(hidden), *cli], load_system=spy) == 2
    out = capsys.readouterr()
    err = out.err.strip().splitlines()
    assert len(err) == 1 and ".hidden.txt" in err[0] and "hidden" in err[0], out.err
    assert "added" not in out.out and spy.calls == [] and not (corpus / ".hidden.txt").exists()


def test_qa_add_of_a_folder_adds_its_visible_regular_files(cli: list[str], tmp_path: Path, corpus: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / ".hidden.txt").write_text(OTHER.replace("Vilnius", "Riga"), encoding="utf-8")
    (incoming / "riga.txt").write_text(OTHER.replace("Vilnius", "Riga"), encoding="utf-8")
    if hasattr(os, "mkfifo"):
        os.mkfifo(incoming / "pipe.txt")
    capsys.readouterr()
    with deadline(20):
        assert main(["-q", "add", str(incoming), *cli], load_system=fake_loader()) == 0
    out = capsys.readouterr()
    assert "added 1," in out.out
    assert {p.name for p in corpus.iterdir()} == {"genf.txt", "nato.txt", "riga.txt"}
    if hasattr(os, "mkfifo"):
        warnings = [line for line in out.err.splitlines() if "pipe.txt" in line]
        assert len(warnings) == 1 and "a FIFO" in warnings[0], out.err


@needs_posix
def test_qa_add_refuses_a_fifo_or_a_device_in_one_line(cli: list[str], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "null.txt").symlink_to("/dev/null")   # harmless to read, should the check fail
    for name, reason in (("pipe.txt", "a FIFO"), ("null.txt", "a link to a device")):
        capsys.readouterr()
        spy = LoaderSpy(fake_loader())
        with deadline(10):
            assert main(["-q", "add", str(tmp_path / name), *cli], load_system=spy) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and name in err[0] and reason in err[0], err
        assert spy.calls == []


# ---- hostile HTML ---------------------------------------------------------------------------

def test_html_nested_five_megabytes_deep_is_refused_quickly(tmp_path: Path) -> None:
    page = tmp_path / "nested.html"
    depth = 450_000  # 5 MB of <div>: 14 s and 335 MB of tree before the limit
    page.write_bytes(b"<html><body>" + b"<div>" * depth + b"Text aus Genf." + b"</div>" * depth
                     + b"</body></html>")
    assert page.stat().st_size < MAX_BYTES
    result = in_child("html", str(page), seconds=20)
    assert result["error"] is not None and "nested.html" in result["error"]
    assert "tags" in result["error"] and "\n" not in result["error"]


@pytest.mark.parametrize("box", ["<article>", '<div class="share">'])
def test_html_deeply_nested_boxes_are_read_in_linear_time(box: str, tmp_path: Path) -> None:
    # Each <article> (or boilerplate-looking box) once asked for its whole text: quadratic,
    # minutes for 50 000 levels. The deadline only catches that, it is no benchmark.
    page = tmp_path / "boxes.html"
    depth = 50_000
    close = "</article>" if box == "<article>" else "</div>"
    page.write_text(f"<html><body><h1>Genf</h1>{box * depth}Die Delegation tagt in Genf.{close * depth}"
                    "</body></html>", encoding="utf-8")
    result = in_child("html", str(page), seconds=30)
    assert result["error"] is None and "Die Delegation tagt in Genf." in result["ids"][0]
