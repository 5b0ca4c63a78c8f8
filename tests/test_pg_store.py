"""The PostgreSQL store's own cases: several writers, bad URLs, no pgvector, an index of another
model or chunking, a connection dropped mid-index. Each is one clear QAError, nothing is lost,
and a half-done index is never served. (What both stores share: tests/test_store_contract.py.)"""
from __future__ import annotations

import psycopg
import pytest

from embeddings.errors import QAError
from embeddings.pgstore import PgStore, describe_url
from qa.commands.main import main
from qa.settings import Settings
from tests.fakes import FakeEmbedder, fake_loader, fake_system
from tests.test_store_contract import article, copy_seeds
from tests.test_writers import add_in_two_processes


def test_two_qa_add_processes_at_once_lose_nothing(tmp_path, pg_url):
    corpus = copy_seeds(tmp_path / "corpus", 2)
    fake_system(corpus, tmp_path / "index", store=pg_url)      # the index exists before both writers start
    add_in_two_processes(tmp_path, corpus, tmp_path / "index", pg_url)
    index = PgStore(pg_url).load()
    assert len(index.documents) == 2 + 30
    assert {f"{p}-{i:02d}.txt" for p in "ab" for i in range(15)} <= set(index.documents)
    assert index.manifest.documents == 32 and len(index) == len(index.chunks)
    assert int(index.version) >= 3          # the build and two commits


def test_the_status_names_the_database(tmp_path, pg_url):
    system = fake_system(copy_seeds(tmp_path / "corpus", 2), tmp_path / "index", store=pg_url)
    status = system.status()
    assert status.store == describe_url(pg_url) and status.store.startswith("PostgreSQL t_")
    assert "@" in status.store and "postgres:" not in status.store      # no user or password shown
    from qa.web.render import status_line

    assert status.store in status_line(status)


@pytest.mark.parametrize("url, message", [
    ("postgresql://nobody:secret@127.0.0.1:1/news", "cannot connect to PostgreSQL news@127.0.0.1:1"),
    ("mysql://nobody@localhost/news", "not a PostgreSQL URL"),
])
def test_a_bad_url_is_one_line_and_shows_no_password(tmp_path, capsys, url, message):
    corpus = copy_seeds(tmp_path / "corpus", 2)
    code = main(["search", "Nato", "--corpus", str(corpus), "--index-dir", str(tmp_path / "index"), "--store", url],
                load_system=fake_loader())
    err = capsys.readouterr().err
    assert code == 2 and message in err and "secret" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "index").exists()


def test_a_database_without_pgvector_is_a_clear_error(tmp_path, pg_url):
    # PostgreSQL 18: an extension folder without pgvector, as on a server where it is not installed.
    url = pg_url + "&options=-cextension_control_path%3D/nonexistent"
    with pytest.raises(QAError, match="has no pgvector: CREATE EXTENSION vector failed .*install pgvector"):
        fake_system(copy_seeds(tmp_path / "corpus", 2), tmp_path / "index", store=url)
    assert not PgStore(pg_url).exists()


def test_a_user_who_may_not_create_the_extension_is_told_so(tmp_path, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE ROLE plain LOGIN")
        conn.execute("GRANT CREATE ON SCHEMA public TO plain")
    url = pg_url.replace("postgres:@", "plain:@")
    with pytest.raises(QAError, match="has no pgvector.*permission denied"):
        fake_system(copy_seeds(tmp_path / "corpus", 2), tmp_path / "index", store=url)


def test_an_index_of_another_model_or_chunking_is_refused_not_replaced(tmp_path, pg_url, capsys):
    corpus = copy_seeds(tmp_path / "corpus", 2)
    version = fake_system(corpus, tmp_path / "index", store=pg_url).index.version
    index = ["index", str(corpus), "--index-dir", str(tmp_path / "index"), "--store", pg_url]
    other_model = fake_loader(embedder=FakeEmbedder(name="other-model", fingerprint="other-1"))
    for loader, argv, why in ((other_model, [], "embedding model changed"),
                              (fake_loader(), ["--chunk-tokens", "50"], "chunking settings changed")):
        capsys.readouterr()
        assert main([*index, *argv], load_system=loader) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert f"does not fit this setup: {why}" in err and "qa index --rebuild --store" in err
    assert PgStore(pg_url).current_version() == version        # untouched
    assert main(["-q", *index, "--chunk-tokens", "50", "--rebuild"], load_system=fake_loader()) == 0
    assert PgStore(pg_url).load().manifest.chunking["max_tokens"] == 50


class DroppingEmbedder(FakeEmbedder):
    """Ends the writer's database session (as a network failure or a server restart would) when
    asked to embed passages after ``arm``: what a dropped connection mid-index does."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.armed = False

    def encode_passages(self, texts, *, show_progress: bool = False):
        if self.armed:
            with psycopg.connect(self.url, autocommit=True) as conn:
                ended = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE application_name = 'newsqa-writer' AND datname = current_database()")
                assert ended.fetchall(), "no writer connection to drop"
        return super().encode_passages(texts, show_progress=show_progress)


def test_a_connection_dropped_mid_add_loses_nothing(tmp_path, pg_url):
    corpus = copy_seeds(tmp_path / "corpus", 3)
    embedder = DroppingEmbedder(pg_url)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", store=pg_url)
    system = fake_loader(embedder=embedder)(settings, show_progress=False)
    before = (PgStore(pg_url).current_version(), sorted(system.documents), len(system.index))
    embedder.armed = True
    with pytest.raises(QAError, match="connection to PostgreSQL .* run the command again") as error:
        system.add([article(tmp_path / "in", "neu.txt", "Neu\n\nDie Brücke von Cherson wurde gesprengt.\n")],
                   show_progress=False)
    assert "\n" not in str(error.value)
    assert not (corpus / "neu.txt").exists()          # the article was not half added
    saved = PgStore(pg_url).load()
    assert (saved.version, sorted(saved.documents), len(saved)) == before
    embedder.armed = False                            # the next try works
    assert system.add([tmp_path / "in" / "neu.txt"], show_progress=False).added == ("neu.txt",)
    assert "neu.txt" in PgStore(pg_url).load().documents


def test_a_build_whose_connection_drops_is_never_served(tmp_path, pg_url):
    from embeddings.indexing import open_index
    from embeddings.targets import open_target

    corpus = copy_seeds(tmp_path / "corpus", 3)
    embedder = DroppingEmbedder(pg_url)
    embedder.armed = True
    target = open_target(tmp_path / "index", pg_url)
    with pytest.raises(QAError, match="connection to PostgreSQL"):
        open_index(corpus, target, embedder, show_progress=False)
    assert not target.exists()                         # no index rather than half of one
    fake_system(corpus, tmp_path / "index", store=pg_url)
    # and a rebuild that fails leaves the previous index as it was
    version = target.current_version()
    with pytest.raises(QAError, match="connection to PostgreSQL"):
        open_index(corpus, target, embedder, rebuild=True, show_progress=False)
    assert target.current_version() == version and len(target.load().documents) == 3


def test_a_rebuild_switches_readers_at_once_and_old_generations_go(tmp_path, pg_url):
    corpus = copy_seeds(tmp_path / "corpus", 3)
    app = fake_system(corpus, tmp_path / "index", store=pg_url)
    for _ in range(2):
        assert main(["-q", "index", str(corpus), "--index-dir", str(tmp_path / "index"), "--store", pg_url,
                     "--rebuild"], load_system=fake_loader()) == 0
    assert app.refresh() is True and app.index.generation == 3
    assert len(app.search("Nato", k=3)) == 3
    with psycopg.connect(pg_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'newsqa_chunks_g%'")}
    assert tables == {"newsqa_chunks_g2", "newsqa_chunks_g3"}   # the one before stays for readers still on it


def test_a_damaged_index_is_one_line(tmp_path, pg_url):
    corpus = copy_seeds(tmp_path / "corpus", 2)
    fake_system(corpus, tmp_path / "index", store=pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE newsqa_stats_g1 SET chunks = chunks + 5")
    with pytest.raises(QAError, match="is damaged .*qa index --rebuild"):
        PgStore(pg_url).load()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE newsqa_manifest")
        conn.execute("CREATE TABLE newsqa_manifest (x int)")
    with pytest.raises(QAError, match="not a newsqa manifest"):
        PgStore(pg_url).load()


def test_the_url_is_described_without_credentials():
    assert describe_url("postgresql://u:pw@db.example.org:6432/news") == "PostgreSQL news@db.example.org:6432"
    assert describe_url("postgres://db/news") == "PostgreSQL news@db"
    with pytest.raises(QAError, match="not a PostgreSQL URL"):
        PgStore("sqlite:///x.db")


def test_settings_take_the_store_from_the_environment():
    assert Settings.from_env({}).store is None
    assert Settings.from_env({"QA_STORE": "postgresql://h/db"}).store == "postgresql://h/db"


def test_the_default_stays_the_index_folder(tmp_path):
    system = fake_system(copy_seeds(tmp_path / "corpus", 2), tmp_path / "index")
    assert system.status().store == str(tmp_path / "index")
    assert (tmp_path / "index" / "manifest.json").exists()



def test_an_unreachable_database_is_said_before_any_model_loads(tmp_path):
    from qa.system import QASystem

    settings = Settings(corpus_dir=copy_seeds(tmp_path / "corpus", 2), index_dir=tmp_path / "index",
                        store="postgresql://nobody@127.0.0.1:1/news", embedding_model="/nonexistent/model")
    with pytest.raises(QAError, match="cannot connect"):     # not: the model cannot be loaded
        QASystem.load(settings)


def test_qa_eval_indexes_a_datasets_contexts_into_the_database_once(tmp_path, pg_url):
    from embeddings.documents import Document
    from qa.system import QASystem

    contexts = [Document(doc_id=f"ctx-{i}", title=f"Kontext {i}", text=f"Die Stadt Ort{i} liegt am Fluss {i}.",
                         metadata={}) for i in range(6)]
    settings = Settings(corpus_dir=tmp_path / "none", index_dir=tmp_path / "index", store=pg_url,
                        cache_dir=tmp_path / "cache")
    first = QASystem.load(settings, parts="retrieval", documents=contexts, embedder=FakeEmbedder())
    again = QASystem.load(settings, parts="retrieval", documents=contexts, embedder=FakeEmbedder())
    assert first.index_status.rebuilt and not again.index_status.rebuilt
    assert sorted(again.documents) == [d.doc_id for d in contexts]
    assert again.search("Wo liegt Ort3?", k=1)[0].chunk.doc_id == "ctx-3"
    assert not (tmp_path / "cache" / "eval-indexes").exists()     # nothing in the folder cache


def test_in_a_large_index_only_selective_words_pick_full_text_candidates(pg_url):
    """A word in nearly every chunk ("Fluss") scores the candidates but does not make all 1200
    chunks candidates; small indexes (the other tests) score every chunk sharing a word."""
    import numpy as np

    from embeddings.chunking import Chunk
    from embeddings.documents import Document
    from embeddings.pgstore import COMMON_MIN
    from embeddings.store import IndexManifest, corpus_fingerprint
    from embeddings.targets import write_index

    n = COMMON_MIN + 200
    texts = [f"Die Stadt Ort{i % 100} liegt am Fluss." for i in range(n)]
    documents = [Document(doc_id=f"d{i}", title=f"d{i}", text=t, metadata={}) for i, t in enumerate(texts)]
    chunks = [Chunk(doc_id=f"d{i}", start=0, end=len(t), text=t, sentences=((0, len(t)),)) for i, t in enumerate(texts)]
    vectors = np.random.default_rng(0).standard_normal((n, 8)).astype(np.float32)
    manifest = IndexManifest(model_name="x", model_fingerprint="x", dimension=8, chunking={},
                             corpus_fingerprint=corpus_fingerprint(documents), documents=n, chunks=n)
    write_index(PgStore(pg_url), documents=documents, chunks=chunks, vectors=vectors, manifest=manifest)
    index = PgStore(pg_url).load()
    found = index.search_bm25("Liegt Ort7 am Fluss?", k=100)
    assert len(found) == n // 100 and all(chunks[i].text.startswith("Die Stadt Ort7 ") for i, _ in found)
    only_common = index.search_bm25("Fluss", k=5)       # no selective word: the rarest one selects
    assert len(only_common) == 5


def test_a_machine_with_another_folder_serves_the_database_and_changes_nothing(tmp_path, pg_url, capsys):
    """App processes on several machines serve one database, each with its own corpus folder.
    One whose folder is older or partial must not undo what the others added: opening a
    database never writes the folder's differences into it (a warning says so); qa index does."""
    import shutil

    first = copy_seeds(tmp_path / "a", 3)
    fake_system(first, tmp_path / "index-a", store=pg_url)
    uploaded = article(tmp_path / "upload", "neu.txt", "Neu in Genf\n\nDie Gespräche beginnen am Montag.\n")
    assert main(["-q", "add", str(uploaded), "--corpus", str(first), "--index-dir", str(tmp_path / "index-a"),
                 "--store", pg_url], load_system=fake_loader()) == 0
    before = PgStore(pg_url).load()
    assert len(before.documents) == 4
    other = tmp_path / "b"                       # another machine: an older folder, one article edited
    other.mkdir()
    for name in sorted(first.iterdir())[:2]:
        shutil.copy(name, other / name.name)
    edited = sorted(other.iterdir())[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "\nEin Satz nur auf dieser Maschine.\n", encoding="utf-8")
    capsys.readouterr()
    served = fake_system(other, tmp_path / "index-b", store=pg_url)
    assert served.index_status.state == "out of date" and not served.index_status.rebuilt
    assert "serving the database as it is" in capsys.readouterr().err   # the CLI's log configuration
    after = PgStore(pg_url).load()
    assert after.version == before.version and after.documents == before.documents   # nothing written
    assert "neu.txt" in {h.chunk.doc_id for h in served.search("Wann beginnen die Gespräche in Genf?", k=10)}
    # qa index is the explicit way to make the database match a folder
    assert main(["-q", "index", str(other), "--index-dir", str(tmp_path / "index-b"), "--store", pg_url],
                load_system=fake_loader()) == 0
    synced = PgStore(pg_url).load()
    assert sorted(synced.documents) == sorted(p.name for p in other.iterdir())
    assert "Ein Satz nur auf dieser Maschine." in synced.documents[edited.name].text
