"""Embedding backends (embeddings/backends.py): choice, errors, vectors against torch, and what
the index manifest makes of a change of backend."""
from __future__ import annotations

import numpy as np
import pytest

from embeddings.backends import BACKENDS, check_backend, fingerprint_suffix
from embeddings.errors import QAError
from embeddings.indexing import EMBEDDING_BACKENDS, build_index, open_index, update_index
from qa.commands.main import main
from qa.settings import Settings
from tests.fakes import FakeEmbedder


def test_an_unknown_backend_is_one_line_that_names_the_choices():
    with pytest.raises(QAError, match="unknown embedding backend 'tensorrt'; use one of torch, onnx, onnx-int8, "
                                      "openvino"):
        check_backend("tensorrt")


def test_an_unknown_backend_fails_before_any_model_loads():
    from embeddings.encoder import load_embedder

    with pytest.raises(QAError, match="QA_EMBEDDING_BACKEND"):
        load_embedder("e5-small", backend="cuda")


def test_the_backend_comes_from_the_environment_and_the_flag(capsys):
    assert Settings.from_env({"QA_EMBEDDING_BACKEND": "openvino"}).embedding_backend == "openvino"
    assert Settings.from_env({"QA_EMBEDDING_BACKEND": "torch"}).embedding_backend == "torch"
    assert Settings.from_env({}).embedding_backend == "openvino"     # the default since issue 17
    with pytest.raises(SystemExit):
        main(["index", "--embedding-backend", "gpu"])
    assert "invalid choice: 'gpu'" in capsys.readouterr().err


def test_only_int8_marks_the_fingerprint():
    assert [fingerprint_suffix(b) for b in BACKENDS] == ["", "", "+onnx-int8", ""]


class _BackendFake(FakeEmbedder):
    def __init__(self, backend: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.backend = backend


def test_the_manifest_lists_the_backends_whose_vectors_the_index_holds(seeds_dir):
    from embeddings.documents import load_corpus

    documents = load_corpus(seeds_dir)
    index = build_index(documents[:2], _BackendFake("torch"), show_progress=False)
    assert index.manifest.extra[EMBEDDING_BACKENDS] == ["torch"]
    update_index(index, documents, _BackendFake("openvino"), show_progress=False)
    assert index.manifest.extra[EMBEDDING_BACKENDS] == ["openvino", "torch"]


@pytest.fixture(scope="module")
def torch_embedder():
    from embeddings.encoder import load_embedder

    return load_embedder("e5-small", backend="torch")


@pytest.fixture(scope="module")
def chunk_texts(seeds_dir, e5_embedder):
    from embeddings.documents import load_corpus
    from embeddings.indexing import chunk_corpus

    return [c.text for c in chunk_corpus(load_corpus(seeds_dir), e5_embedder, max_tokens=200, overlap=1)]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_onnx_and_openvino_give_torchs_vectors_under_torchs_fingerprint(backend, torch_embedder, chunk_texts):
    from embeddings.encoder import load_embedder

    embedder = load_embedder("e5-small", backend=backend)
    assert (embedder.backend, embedder.fingerprint, embedder.name) == (backend, torch_embedder.fingerprint,
                                                                      torch_embedder.name)
    cosine = np.sum(embedder.encode_passages(chunk_texts) * torch_embedder.encode_passages(chunk_texts), axis=1)
    assert cosine.min() > 0.99999
    query = "Wie viele Menschen sind im Donbass getötet worden?"
    assert float((embedder.fork().encode_queries([query]) @ torch_embedder.encode_queries([query]).T)[0, 0]) > 0.99999


@pytest.mark.slow
def test_an_index_is_kept_across_equivalent_backends_and_rebuilt_for_int8(seeds_dir, torch_embedder, tmp_path):
    """An index built with torch (before OpenVINO became the default) is not rebuilt by it."""
    from embeddings.encoder import load_embedder

    open_index(seeds_dir, tmp_path, torch_embedder, show_progress=False)
    for backend in ("openvino", "onnx"):
        kept = open_index(seeds_dir, tmp_path, load_embedder("e5-small", backend=backend), show_progress=False)
        assert kept.state == "up to date"
    int8 = load_embedder("e5-small", backend="onnx-int8")
    assert int8.fingerprint == torch_embedder.fingerprint + "+onnx-int8"
    rebuilt = open_index(seeds_dir, tmp_path, int8, show_progress=False)
    assert rebuilt.rebuilt and "embedding model changed" in rebuilt.reasons[0]
    assert rebuilt.index.manifest.extra[EMBEDDING_BACKENDS] == ["onnx-int8"]


@pytest.mark.slow
def test_the_swapped_model_lets_its_torch_weights_go():
    """Once the transformer runs on OpenVINO, no torch parameter of it stays alive: the model
    card sentence-transformers keeps points at the swapped model, not the original."""
    import gc

    import torch

    from embeddings.encoder import load_embedder

    def parameters() -> dict[int, int]:
        gc.collect()
        return {id(p): p.numel() for p in gc.get_objects() if isinstance(p, torch.nn.Parameter)}

    before = parameters()    # other tests' models (this module's torch embedder) stay out of it
    embedder = load_embedder("e5-small", backend="openvino")
    alive = sum(n for key, n in parameters().items() if key not in before)
    assert alive < 1_000_000, f"{alive:,} torch parameters still alive"
    assert embedder.model.model_card_data.model is embedder.model
    assert embedder.encode_queries(["Wo ist der Gipfel?"]).shape == (1, 384)
