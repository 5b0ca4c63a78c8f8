"""Several writers on one index folder lose nothing, and an add never blocks questions."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from embeddings.store import ChunkIndex
from qa.settings import REPO_ROOT
from tests.fakes import FakeEmbedder, fake_system

SEEDS = REPO_ROOT / "seeds"


def write_articles(folder: Path, prefix: str, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{prefix}-{i:02d}.txt").write_text(
            f"{prefix} Artikel {i}\n\nDie Stadt {prefix}{i} liegt am Fluss. Dort tagt der Rat {i}.\n",
            encoding="utf-8")
    return folder


def small_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in sorted(SEEDS.iterdir())[:2]:
        (corpus / name.name).write_bytes(name.read_bytes())
    return corpus


# A `qa add` in its own process, on the fake embedder (the real QASystem.load underneath);
# a fourth argument is the --store URL.
ADD = """
import sys
from tests.fakes import fake_loader
from qa.commands.main import main
store = ["--store", sys.argv[4]] if len(sys.argv) > 4 else []
sys.exit(main(["-q", "add", sys.argv[1], "--corpus", sys.argv[2], "--index-dir", sys.argv[3], *store],
              load_system=fake_loader()))
"""


def add_in_two_processes(tmp_path: Path, corpus: Path, index_dir: Path, *store: str) -> None:
    """Two `qa add` processes at once, 15 new articles each (a-00.txt…, b-00.txt…), into the
    index of ``corpus`` (in ``store`` when given); both must succeed."""
    batches = [write_articles(tmp_path / name, name, 15) for name in ("a", "b")]
    runs = [subprocess.Popen([sys.executable, "-c", ADD, str(batch), str(corpus), str(index_dir), *store],
                             cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for batch in batches]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        assert out.startswith("added 15,"), out


def test_two_qa_add_processes_at_once_lose_nothing(tmp_path):
    corpus, index_dir = small_corpus(tmp_path), tmp_path / "index"
    fake_system(corpus, index_dir)        # the index exists before both writers start
    add_in_two_processes(tmp_path, corpus, index_dir)
    index = ChunkIndex.load(index_dir)
    assert len(index.documents) == 2 + 30
    assert {f"{p}-{i:02d}.txt" for p in "ab" for i in range(15)} <= set(index.documents)
    assert len(list(corpus.iterdir())) == 32


def test_a_second_writer_keeps_the_first_ones_articles(tmp_path):
    """The app adds on top of what the CLI saved meanwhile, not over it with its stale copy."""
    corpus, index_dir = small_corpus(tmp_path), tmp_path / "index"
    app = fake_system(corpus, index_dir)
    cli = fake_system(corpus, index_dir)
    cli.add([write_articles(tmp_path / "cli", "cli", 5)], show_progress=False)
    app.add([write_articles(tmp_path / "app", "app", 1)], show_progress=False)
    saved = ChunkIndex.load(index_dir)
    assert len(saved.documents) == 2 + 5 + 1
    assert set(app.documents) == set(saved.documents)     # the app now answers from all of them
    app.ask("Wo liegt die Stadt cli3?", doc_ids=["cli-03.txt"])   # no "unknown article id"
    removed = cli.remove(["app-00.txt"])
    assert removed.removed == ("app-00.txt",)
    assert "cli-04.txt" in ChunkIndex.load(index_dir).documents


class BlockingEmbedder(FakeEmbedder):
    """Its forks stop in encode_passages until ``release`` is set: an add that takes forever."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.adding = threading.Event()

    def fork(self) -> "FakeEmbedder":
        parent = self

        class Fork(FakeEmbedder):
            def encode_passages(self, texts, *, show_progress=False):
                parent.adding.set()
                parent.release.wait(timeout=60)
                return super().encode_passages(texts, show_progress=show_progress)

        return Fork()


def test_questions_are_answered_while_an_article_is_being_added(tmp_path):
    from qa.settings import Settings
    from tests.fakes import fake_loader

    corpus, index_dir = small_corpus(tmp_path), tmp_path / "index"
    embedder = BlockingEmbedder()
    system = fake_loader(embedder=embedder)(Settings(corpus_dir=corpus, index_dir=index_dir), show_progress=False)
    adding = threading.Thread(target=system.add, args=([write_articles(tmp_path / "new", "neu", 1)],),
                              kwargs={"show_progress": False})
    adding.start()
    try:
        assert embedder.adding.wait(timeout=30), "the add never started embedding"
        answered = []
        asking = threading.Thread(target=lambda: answered.append(system.ask("Wo finden die Gespräche statt?")))
        asking.start()
        asking.join(timeout=20)
        assert answered, "a question waited for the add to finish"
        assert adding.is_alive()           # the add was still embedding while it was answered
    finally:
        embedder.release.set()
        adding.join(timeout=60)
    assert "neu-00.txt" in system.documents


def test_the_app_picks_up_what_another_process_saved(tmp_path):
    """No restart: the next question after a CLI add is answered from the new version."""
    corpus, index_dir = small_corpus(tmp_path), tmp_path / "index"
    app = fake_system(corpus, index_dir)
    before = app.index.version
    cli = fake_system(corpus, index_dir)
    cli.add([write_articles(tmp_path / "cli", "cli", 2)], show_progress=False)
    assert "cli-01.txt" not in app.documents            # nothing asked yet
    response = app.ask("Wo liegt die Stadt cli1?", doc_ids=None)
    assert "cli-01.txt" in app.documents and app.index.version != before
    assert any(hit.doc_id.startswith("cli-") for hit in response.hits)
    assert app.refresh() is False                        # nothing new since
