"""The built-in e5-small-qa-de: file checks (fast), assembly, cache and answers (slow)."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from embeddings.chunking import Chunk
from qa.reading import builtin as builtin_reader
from qa.reading.builtin import (BUILTIN_NAME, LAYER_FILES, MANIFEST, MODEL_DIR, load_builtin_model,
                               load_builtin_reader, load_layer_tensors, verify_layer_files)
from embeddings.errors import QAError
from qa.reading.loading import load_reader
from qa.settings import REPO_ROOT
from embeddings.cache import default_cache_dir
from qa.types import Hit


@pytest.fixture()
def model_copy(tmp_path) -> Path:
    folder = tmp_path / BUILTIN_NAME
    shutil.copytree(MODEL_DIR, folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def test_model_ships_in_the_repository_with_its_card():
    assert (MODEL_DIR / "MODEL_CARD.md").is_file()
    assert len(verify_layer_files(MODEL_DIR)) == len(LAYER_FILES)


def test_flipped_byte_is_caught_by_the_checksum(model_copy):
    path = model_copy / "reader_layers_1.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(QAError, match="reader_layers_1.safetensors is damaged"):
        verify_layer_files(model_copy)


def test_missing_file_is_reported(model_copy):
    (model_copy / "reader_layers_2.safetensors").unlink()
    with pytest.raises(QAError, match="reader_layers_2.safetensors is missing"):
        verify_layer_files(model_copy)


def _rewrite(path: Path, change) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    change(tensors)
    save_file(tensors, str(path))


def test_truncated_file_cannot_be_read(model_copy):
    path = model_copy / "reader_layers_0.safetensors"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(QAError, match="cannot be read"):
        load_layer_tensors(model_copy)


def test_missing_tensor_is_caught(model_copy):
    path = model_copy / "reader_layers_0.safetensors"
    _rewrite(path, lambda t: t.pop(sorted(t)[0]))
    with pytest.raises(QAError, match="193 layer tensors, expected 194"):
        load_layer_tensors(model_copy)


def test_wrong_shape_is_caught(model_copy):
    path = model_copy / "reader_layers_0.safetensors"
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        name = sorted(k for k in handle.keys() if k.endswith("dense.weight"))[0]

    def change(tensors):
        tensors[name] = tensors[name][:-1].clone()

    _rewrite(path, change)
    with pytest.raises(QAError, match="has shape"):
        load_layer_tensors(model_copy)


def test_garbled_values_and_stray_tensors_are_caught(model_copy):
    import torch

    path = model_copy / "reader_layers_2.safetensors"

    def add_nan(tensors):
        name = sorted(tensors)[0]
        tensors[name] = tensors[name].clone()
        tensors[name].view(-1)[0] = float("nan")

    _rewrite(path, add_nan)
    with pytest.raises(QAError, match="NaN"):
        load_layer_tensors(model_copy)
    _rewrite(path, lambda t: t.update({"bert.embeddings.word_embeddings.weight":
                                       torch.zeros(250037, 384, dtype=torch.float16)}))
    with pytest.raises(QAError, match="not one of"):
        load_layer_tensors(model_copy)


# --- the real model (slow) ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def builtin():
    """The built-in reader from the user's cache (assembled there on the first run)."""
    return load_builtin_reader(cache_dir=default_cache_dir())


@pytest.mark.slow
def test_assembly_is_verified_cached_atomically_and_reloaded(tmp_path):
    import torch

    model, tokenizer = load_builtin_model(cache_dir=tmp_path)   # assembles and caches
    folders = list(tmp_path.iterdir())
    assert len(folders) == 1, "temp folders must not be left behind"
    assert folders[0].name.startswith(BUILTIN_NAME + "-") and (folders[0] / MANIFEST).is_file()
    assert (folders[0] / "model.safetensors").is_file() and (folders[0] / "tokenizer.json").is_file()
    cached, cached_tokenizer = load_builtin_model(cache_dir=tmp_path)  # from the cache
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, cached.state_dict()[name]), name
    text = "Die Gespräche finden in Genf statt."
    assert tokenizer(text)["input_ids"] == cached_tokenizer(text)["input_ids"]


@pytest.mark.slow
def test_garbled_head_fails_the_check_question(model_copy):
    import torch

    generator = torch.Generator().manual_seed(0)

    def scramble(tensors):  # right names and shapes, garbage values
        for name in sorted(tensors):
            tensors[name] = (0.05 * torch.randn(tensors[name].shape, generator=generator)).half()

    for file_name in LAYER_FILES:
        _rewrite(model_copy / file_name, scramble)
    model, tokenizer = builtin_reader.assemble_builtin_model(model_dir=model_copy)
    with pytest.raises(QAError, match="check question"):
        builtin_reader.check_answers_sanity_question(model, tokenizer)


def seed_hit(doc_file: str, sentence: str, *, before: int = 300, after: int = 300) -> Hit:
    text = (REPO_ROOT / "seeds" / doc_file).read_text(encoding="utf-8")
    at = text.index(sentence)
    start, end = max(0, at - before), min(len(text), at + len(sentence) + after)
    return Hit(chunk=Chunk(doc_file, start, end, text[start:end]), score=0.9, rank=1)


SEED_QUESTIONS = [
    ("Wo finden die Gespräche der USA mit Russland statt?", "000_d219b86bc509e6da.txt",
     "Bei den Gesprächen Russlands in der kommenden Woche mit den USA in Genf", "Genf"),
    ("Wie viele Menschen sind im Donbass seit 2014 getötet worden?", "000_d219b86bc509e6da.txt",
     "Mehr als 13 000 Menschen sind nach UN-Schätzungen im Donbass", "13 000"),
    ("Wer ist der US-Sondergesandte?", "003_01742ba1c49b300e.txt",
     "sowie der US-Sondergesandte Steve Witkoff", "Steve Witkoff"),
]


@pytest.mark.slow
@pytest.mark.parametrize("question, doc_file, sentence, expected", SEED_QUESTIONS)
def test_answers_seed_questions_from_the_right_chunk(builtin, question, doc_file, sentence, expected):
    hit = seed_hit(doc_file, sentence)
    answers = builtin.read(question, [hit], top_n=3)
    assert expected in answers[0].text
    assert answers[0].reader == BUILTIN_NAME
    document = (REPO_ROOT / "seeds" / doc_file).read_text(encoding="utf-8")
    assert document[answers[0].start:answers[0].end] == answers[0].text


@pytest.mark.slow
def test_unloadable_model_name_falls_back_to_builtin(caplog):
    with caplog.at_level(logging.WARNING, logger="qa.reading.reader"):
        reader = load_reader("no-such-org/no-such-qa-model", cache_dir=default_cache_dir())
    assert reader.name == BUILTIN_NAME
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "no-such-org/no-such-qa-model" in warnings[0]
    assert BUILTIN_NAME in warnings[0]
