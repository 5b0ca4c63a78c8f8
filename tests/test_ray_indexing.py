"""``qa index --ray``: chunks and vectors from a local Ray with 2 workers build the same index as
one process. One Ray for the module (2 CPUs, no dashboard), shut down at its end."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from embeddings.errors import QAError
from embeddings.ray_indexing import RayCorpusEncoder
from qa.commands.main import main

ray = pytest.importorskip("ray")

QUESTIONS = ("Wie viele Menschen sind im Donbass getötet worden?",
             "Wo finden die Gespräche der USA mit Russland statt?",
             "Was hat Biden Selenskyj angeboten?")


@pytest.fixture(scope="module")
def local_ray():
    from embeddings.ray_indexing import ray_init_options

    ray.init(num_cpus=2, **ray_init_options())
    yield ray
    ray.shutdown()


def _vectors(index) -> dict[int, np.ndarray]:
    return {i: index.vectors.index.reconstruct(i) for i in index.chunks}


def test_ray_with_2_workers_builds_the_single_process_index(local_ray, seeds_dir, seeds_index, seeds_retriever,
                                                           e5_embedder, tmp_path, capsys):
    from embeddings.store import ChunkIndex
    from qa.retrieval.retriever import Retriever

    argv = ["index", str(seeds_dir), "--index-dir", str(tmp_path / "idx"), "--ray", "--ray-workers", "2"]
    assert main(argv) == 0
    assert "rebuilt" in capsys.readouterr().out
    on_ray = ChunkIndex.load(tmp_path / "idx")
    assert list(on_ray.chunks.values()) == list(seeds_index.chunks.values())   # same chunks, same ids, same order
    local, remote = _vectors(seeds_index), _vectors(on_ray)
    assert max(float(np.abs(local[i] - remote[i]).max()) for i in local) < 1e-5
    assert on_ray.manifest.corpus_fingerprint == seeds_index.manifest.corpus_fingerprint
    retriever = Retriever(on_ray, e5_embedder)
    for question in QUESTIONS:
        assert [(h.chunk, h.rank) for h in retriever.search(question, k=5)] == \
               [(h.chunk, h.rank) for h in seeds_retriever.search(question, k=5)]


def _pg_vectors(index) -> dict[int, np.ndarray]:
    rows = index.conn.execute(f"SELECT id, embedding::real[] FROM {index.tables['chunks']}").fetchall()
    return {int(i): np.asarray(v, dtype=np.float32) for i, v in rows}


def test_ray_into_postgresql_builds_the_single_process_index_there(local_ray, seeds_dir, e5_embedder, pg_url,
                                                                   tmp_path, capsys):
    """``qa index --ray --store postgresql://...``: the Ray workers' chunks and vectors land in the
    database as a single-process ``qa index --store`` writes them (another database, same server)."""
    from urllib.parse import urlsplit

    import psycopg

    from embeddings.pgstore import PgStore
    from qa.retrieval.retriever import Retriever

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE ray_into_pg_single")
    single_url = pg_url.replace(urlsplit(pg_url).path, "/ray_into_pg_single", 1)
    assert main(["index", str(seeds_dir), "--index-dir", str(tmp_path / "a"), "--store", single_url]) == 0
    assert main(["index", str(seeds_dir), "--index-dir", str(tmp_path / "b"), "--store", pg_url,
                 "--ray", "--ray-workers", "2"]) == 0
    assert "rebuilt" in capsys.readouterr().out
    single, on_ray = PgStore(single_url).load(), PgStore(pg_url).load()
    assert len(on_ray) == len(single) > 0
    assert dict(on_ray.chunks.items()) == dict(single.chunks.items())      # same chunks under the same ids
    assert dict(on_ray.documents.items()) == dict(single.documents.items())
    local, remote = _pg_vectors(single), _pg_vectors(on_ray)
    assert local.keys() == remote.keys() == set(single.chunks)
    assert max(float(np.abs(local[i] - remote[i]).max()) for i in local) < 1e-5
    assert on_ray.manifest == single.manifest
    for mode in ("dense", "bm25", "hybrid"):
        ray_retriever = Retriever(on_ray, e5_embedder, mode=mode)
        single_retriever = Retriever(single, e5_embedder, mode=mode)
        for question in QUESTIONS:
            assert [(h.chunk, h.rank) for h in ray_retriever.search(question, k=5)] == \
                   [(h.chunk, h.rank) for h in single_retriever.search(question, k=5)], (mode, question)


def test_the_encoder_returns_chunks_in_document_order_however_the_workers_finish(local_ray, seeds_dir,
                                                                                  e5_embedder):
    """One document per batch over 2 workers: batches finish in any order, the result does not."""
    from embeddings.documents import load_corpus
    from embeddings.indexing import encode_locally

    documents = load_corpus(seeds_dir)[::-1]    # not sorted by id: the order given is kept
    encoder = RayCorpusEncoder(model="e5-small", backend=e5_embedder.backend, cache_dir=e5_cache(), workers=2,
                               documents_per_batch=1)
    chunks, vectors = encoder(documents, e5_embedder, max_tokens=120, overlap=0, show_progress=False)
    expected_chunks, expected = encode_locally(documents, e5_embedder, max_tokens=120, overlap=0,
                                               show_progress=False)
    assert chunks == expected_chunks
    assert vectors.dtype == np.float32 and np.abs(vectors - expected).max() < 1e-5


def e5_cache():
    from embeddings.cache import default_cache_dir

    return default_cache_dir()


def test_a_worker_that_cannot_load_the_model_is_one_line(local_ray, e5_embedder, seeds_dir):
    from embeddings.documents import load_corpus

    encoder = RayCorpusEncoder(model="/no/such/model", backend="torch", cache_dir=e5_cache(), workers=1)
    with pytest.raises(QAError, match=r"^indexing on Ray failed, nothing was written: .*cannot load embedding "
                                      r"model '/no/such/model'") as raised:
        encoder(load_corpus(seeds_dir), e5_embedder, max_tokens=200, overlap=1, show_progress=False)
    assert "\n" not in str(raised.value)


def test_without_ray_installed_the_error_says_what_to_install(monkeypatch, e5_embedder, seeds_dir):
    from embeddings.documents import load_corpus

    monkeypatch.setitem(sys.modules, "ray", None)
    encoder = RayCorpusEncoder(model="e5-small", backend="torch", cache_dir=e5_cache())
    with pytest.raises(QAError, match=r"needs Ray Data: pip install 'ray\[data\]==2.60.0'"):
        encoder(load_corpus(seeds_dir), e5_embedder, max_tokens=200, overlap=1, show_progress=False)


@pytest.mark.parametrize("argv, message", [
    (["--ray-workers", "2"], "--ray-workers needs --ray [ADDRESS]"),
    (["--ray", "--ray-workers", "0"], "--ray-workers 0: give at least 1"),
])
def test_bad_ray_options_are_one_line_before_anything_loads(argv, message, tmp_path, capsys):
    def never(*args, **kwargs):
        raise AssertionError("nothing may load")

    assert main(["index", "--index-dir", str(tmp_path), *argv], load_system=never) == 2
    assert capsys.readouterr().err.strip() == f"qa index: error: {message}"


def test_an_unreachable_address_is_one_line_at_once(tmp_path, capsys):
    import socket

    with socket.socket() as unused:          # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    argv = ["index", "--index-dir", str(tmp_path), "--ray", f"127.0.0.1:{port}"]
    assert main(argv, load_system=_encode_seeds) == 2
    assert capsys.readouterr().err.startswith(f"qa index: error: cannot reach the Ray cluster at 127.0.0.1:{port} (")


def _encode_seeds(settings, *, encode_corpus, **_):
    """A load_system that only runs the encoder (no models in this process)."""
    from embeddings.documents import Document
    from tests.fakes import FakeEmbedder

    encode_corpus([Document(doc_id="a.txt", title="", text="Ein Satz.")], FakeEmbedder(), max_tokens=200,
                  overlap=1, show_progress=False)
    raise AssertionError("the encoder should have failed")
