"""The reader training script: data discipline, window labels, export format, smoke run."""
from __future__ import annotations

import json
import random

import pytest

from qa.errors import QAError
from qa.train_reader import (DEFAULT_DATA_DIR, QAExample, build_windows, export_layer_files,
                             load_xquad_examples, main)
from tests.fakes import TINY_QA_QUESTION, build_tiny_qa_model, tiny_qa_context

needs_xquad = pytest.mark.skipif(not (DEFAULT_DATA_DIR / "xquad.de.json").is_file(),
                                 reason="XQuAD files not present next to the repository")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_qa_model(tmp_path_factory.mktemp("tiny-train"), steps=5)


@needs_xquad
def test_training_uses_articles_0_to_39_only():
    examples = load_xquad_examples(DEFAULT_DATA_DIR, ["de"])
    data = json.loads((DEFAULT_DATA_DIR / "xquad.de.json").read_text(encoding="utf-8"))["data"]
    held_out = {qa["id"] for article in data[40:] for p in article["paragraphs"] for qa in p["qas"]}
    assert examples and not held_out & {e.qid for e in examples}
    assert len(examples) == 1013   # 12,156 over 12 languages, as the model card says
    for example in examples[:50]:
        assert example.context[example.answer_start:][:len(example.answer_text)] == example.answer_text
    with pytest.raises(QAError, match="40-47 are held out"):
        load_xquad_examples(DEFAULT_DATA_DIR, ["de"], articles=41)


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(QAError, match="--data-dir"):
        load_xquad_examples(tmp_path, ["de"])
    assert main(["--out", str(tmp_path / "m"), "--data-dir", str(tmp_path)]) == 2


def test_windows_point_at_the_answer_or_at_position_0(tiny_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    rng = random.Random(0)
    examples = []
    for i in range(20):
        context, start, answer = tiny_qa_context(rng, rng.randrange(2, 60))
        examples.append(QAExample(str(i), "de", TINY_QA_QUESTION, context, start, answer))
    windows = build_windows(examples, tokenizer, max_length=32, stride=8)
    assert len(windows) > len(examples)  # long contexts were split
    answered = set()
    for window in windows:
        example = examples[window["example"]]
        s, e = window["start_positions"], window["end_positions"]
        if s == 0:
            assert e == 0
            continue
        text = tokenizer.decode(window["input_ids"][s:e + 1])
        assert text.lower() == example.answer_text.lower()
        answered.add(window["example"])
    assert answered == set(range(len(examples)))


def test_export_writes_the_shipped_format(tiny_dir, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(tiny_dir)
    paths = export_layer_files(model, tmp_path / "layers")
    assert [p.name for p in paths] == [f"reader_layers_{i}.safetensors" for i in range(3)]
    exported = {}
    for path in paths:
        exported.update(load_file(str(path)))
    wanted = {k for k in model.state_dict() if k.startswith(("bert.encoder.", "qa_outputs."))}
    assert set(exported) == wanted
    assert all(t.dtype == torch.float16 for t in exported.values())


@pytest.mark.slow
@needs_xquad
def test_smoke_run_writes_a_loadable_model(tmp_path):
    from qa.reader import load_reader

    out = tmp_path / "reader"
    assert main(["--smoke", "--out", str(out)]) == 0
    summary = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert summary["smoke"] and summary["device"] == "cpu" and summary["epochs"] == 1
    assert 0 < summary["windows"] <= 32 and summary["articles"] == "0-39"
    assert len(list((out / "layers").glob("reader_layers_*.safetensors"))) == 3
    def fail():
        raise AssertionError("the trained model did not load")

    assert load_reader(str(out), cache_dir=tmp_path / "cache", fallback=fail).name == str(out)
