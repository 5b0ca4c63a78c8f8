"""The reader's forward pass on OpenVINO (qa/reading/runtime.py): the option, the cached export
(made again when damaged), and the same answers as torch, on a tiny model and the real one."""
from __future__ import annotations

import logging
import random

import pytest
import torch

from embeddings.backends import ONNX_FILE, compile_export
from embeddings.cache import default_cache_dir
from embeddings.documents import Document
from embeddings.errors import QAError
from qa.commands.main import main
from qa.reading.loading import load_reader
from qa.reading.reader import TransformersReader
from qa.reading.runtime import DEFAULT_READER_BACKEND, READER_BACKENDS, with_reader_backend
from qa.settings import Settings
from tests.fakes import TINY_QA_QUESTION, build_tiny_qa_model, tiny_qa_context
from tests.test_builtin_reader import SEED_QUESTIONS, seed_hit
from tests.test_reader import whole_doc_hit


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_qa_model(tmp_path_factory.mktemp("tiny-qa"))


def tiny_hits(n: int = 6):
    rng = random.Random(3)
    contexts = [tiny_qa_context(rng, 8 + 9 * i) for i in range(n)]
    return [[whole_doc_hit(Document(f"d{i}", "", text))] for i, (text, _, _) in enumerate(contexts)]


def evidence(reader, hits):
    return reader.read_many([TINY_QA_QUESTION] * len(hits), hits, top_n=[3] * len(hits))


def assert_same_answers(torch_evidence, other_evidence, *, tolerance: float) -> None:
    for a, b in zip(torch_evidence, other_evidence, strict=True):
        assert [(x.doc_id, x.start, x.end, x.text) for x in a.answers] == \
               [(x.doc_id, x.start, x.end, x.text) for x in b.answers]
        for x, y in zip(a.answers, b.answers):
            assert abs(x.score - y.score) <= tolerance
        assert a.null_logit == pytest.approx(b.null_logit, abs=1e-3)


def test_the_backend_comes_from_the_environment_and_the_flag(capsys):
    assert READER_BACKENDS == ("torch", "openvino")
    assert Settings.from_env({}).reader_backend == DEFAULT_READER_BACKEND == "openvino"
    assert Settings.from_env({"QA_READER_BACKEND": "torch"}).reader_backend == "torch"
    with pytest.raises(SystemExit):
        main(["ask", "--reader-backend", "onnx", "Wer?"])
    assert "invalid choice: 'onnx'" in capsys.readouterr().err


def test_an_unknown_backend_is_one_line_that_names_the_choices(tiny_dir, tmp_path):
    with pytest.raises(QAError, match="unknown reader backend 'cuda'; use one of torch, openvino"):
        load_reader(str(tiny_dir), cache_dir=tmp_path, backend="cuda")


def test_openvino_reads_the_tiny_model_as_torch_does_and_keeps_its_export(tiny_dir, tmp_path):
    hits = tiny_hits()
    torch_reader = load_reader(str(tiny_dir), cache_dir=tmp_path, max_length=64, stride=16)
    ov = load_reader(str(tiny_dir), cache_dir=tmp_path, max_length=64, stride=16, backend="openvino")
    assert type(ov.model).__name__ == "_RuntimeQAModel" and torch_reader.model is not ov.model
    assert ov.model.inputs == ["input_ids", "attention_mask"]   # what the reader feeds the tiny model
    assert_same_answers(evidence(torch_reader, hits), evidence(ov, hits), tolerance=1e-4)
    exports = list((tmp_path / "exports").iterdir())
    assert len(exports) == 1 and (exports[0] / ONNX_FILE).is_file()
    made = (exports[0] / ONNX_FILE).stat().st_mtime_ns
    load_reader(str(tiny_dir), cache_dir=tmp_path, max_length=64, stride=16, backend="openvino")
    assert (exports[0] / ONNX_FILE).stat().st_mtime_ns == made       # reused, not exported again


def test_token_type_ids_are_exported_when_the_reader_feeds_them(tiny_dir, tmp_path):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    tokenizer.model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_dir)
    with torch.no_grad():      # a segment embedding that matters, so dropping the input would show
        model.bert.embeddings.token_type_embeddings.weight[1] += 0.5
    torch_reader = TransformersReader(model, tokenizer, name="tiny-tt", max_length=64, stride=16)
    ov = with_reader_backend(torch_reader, "openvino", cache_dir=tmp_path)
    assert ov.model.inputs == ["input_ids", "attention_mask", "token_type_ids"]
    hits = tiny_hits()
    assert_same_answers(evidence(torch_reader, hits), evidence(ov, hits), tolerance=1e-4)


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_a_damaged_or_missing_export_is_made_again(tiny_dir, tmp_path, caplog, damage):
    load_reader(str(tiny_dir), cache_dir=tmp_path, backend="openvino")
    [folder] = (tmp_path / "exports").iterdir()
    data = (folder / ONNX_FILE).read_bytes()
    if damage == "truncate":
        (folder / ONNX_FILE).write_bytes(data[: len(data) // 3])
    else:
        (folder / ONNX_FILE).unlink()
    with caplog.at_level(logging.WARNING):
        ov = load_reader(str(tiny_dir), cache_dir=tmp_path, max_length=64, stride=16, backend="openvino")
    assert ("exporting it again" in caplog.text) == (damage == "truncate")
    assert len((folder / ONNX_FILE).read_bytes()) == len(data)
    torch_reader = load_reader(str(tiny_dir), cache_dir=tmp_path, max_length=64, stride=16)
    hits = tiny_hits(2)
    assert_same_answers(evidence(torch_reader, hits), evidence(ov, hits), tolerance=1e-4)


def test_an_export_that_stays_unloadable_is_a_clear_error(tmp_path):
    made = []

    def export(replace: bool):
        made.append(replace)
        (tmp_path / ONNX_FILE).write_bytes(b"not onnx")
        return tmp_path / ONNX_FILE

    def compile(path):
        raise RuntimeError("cannot parse model")

    with pytest.raises(QAError, match="cannot be loaded even when made again .*delete that folder or use the torch"):
        compile_export(export, compile, what="the reader x")
    assert made == [False, True]


def test_the_int8_reader_is_refused_on_openvino(tiny_dir, tmp_path):
    with pytest.raises(QAError, match="int8 .* runs on torch only; use --reader-backend torch"):
        load_reader(str(tiny_dir), cache_dir=tmp_path, quantize=True, backend="openvino")


@pytest.mark.slow
def test_the_builtin_reader_on_openvino_answers_seed_questions_as_torch_does(builtin_reader):
    ov = load_reader("builtin", cache_dir=default_cache_dir(), backend="openvino")
    questions = [question for question, *_ in SEED_QUESTIONS]
    hits = [[seed_hit(doc_file, sentence, before=700, after=700)] for _, doc_file, sentence, _ in SEED_QUESTIONS]
    torch_evidence = builtin_reader.read_many(questions, hits, top_n=[3] * len(questions))
    ov_evidence = ov.read_many(questions, hits, top_n=[3] * len(questions))
    assert_same_answers(torch_evidence, ov_evidence, tolerance=1e-4)
    for (*_, expected), found in zip(SEED_QUESTIONS, ov_evidence):
        assert expected in found.answers[0].text
