"""What runs the reader's forward pass: "torch" or "openvino" (embeddings/backends.py's export,
the same way the embedding model runs there).

Only the model's forward is swapped: the QA model is exported once with ``torch.onnx.export``
(start and end logits from exactly the inputs the reader feeds it) into the cache folder, keyed
by a hash of its weights, and compiled by OpenVINO with dynamic batch and window widths.
Tokenization, windows, padding and span choice stay the reader's own.
"""
from __future__ import annotations

import copy
import hashlib
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from embeddings.backends import EXPORT_VERSION, Runner, compile_export, export_graph, openvino_runner
from embeddings.errors import QAError
from qa.reading.reader import TransformersReader

log = logging.getLogger(__name__)

READER_BACKENDS = ("torch", "openvino")
# OpenVINO: the same answers as torch on every question of eval/seeds_dev.jsonl (logits within
# ~1e-5) and faster (docs/BENCHMARKS.md, "Reader backends"). load_reader's own default stays
# torch, the reference the tests compare against; the product's (Settings) is this one.
DEFAULT_READER_BACKEND = "openvino"
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def check_reader_backend(backend: str) -> str:
    if backend not in READER_BACKENDS:
        raise QAError(f"unknown reader backend {backend!r}; use one of {', '.join(READER_BACKENDS)} "
                      "(--reader-backend or QA_READER_BACKEND)")
    return backend


def export_fingerprint(model, inputs: list[str]) -> str:
    """sha256 of the model's inputs, config and every weight: an export is reused only for these."""
    digest = hashlib.sha256((",".join(inputs) + "\n" + model.config.to_json_string()).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def with_reader_backend(reader: TransformersReader, backend: str, *, cache_dir: Path) -> TransformersReader:
    """``reader`` with its model's forward run by ``backend`` (torch: ``reader`` itself)."""
    check_reader_backend(backend)
    if backend == "torch":
        return reader
    import torch

    model = reader.model
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
        raise QAError(f"the {backend} reader backend needs a transformers QA model, not "
                      f"{type(model).__name__}; use --reader-backend torch")
    if any(getattr(module, "_packed_params", None) is not None for module in model.modules()):
        raise QAError("the int8 (quantized) reader runs on torch only; use --reader-backend torch")
    inputs = [name for name in TOKEN_INPUTS if name in reader._model_input_names()]
    export_dir = Path(cache_dir) / "exports" / f"reader-{export_fingerprint(model, inputs)}-v{EXPORT_VERSION}"
    try:
        run = compile_export(
            lambda replace: export_graph(_span_logits(model, inputs), export_dir, inputs=inputs,
                                         outputs=["start_logits", "end_logits"],
                                         what=f"the reader {reader.name}", replace=replace),
            openvino_runner, what=f"the reader {reader.name}")
    except ImportError as error:
        raise QAError(f"the {backend} reader backend needs {error.name}: pip install openvino==2026.4.1 "
                      "(or use --reader-backend torch)") from None
    swapped = copy.copy(reader)
    swapped.model = _RuntimeQAModel(run, inputs, model.config)
    return swapped


def _span_logits(model, inputs: list[str]):
    """The QA model as a torch module from its token inputs (in order) to (start, end) logits."""
    import torch

    class SpanLogits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model.eval()

        def forward(self, *tensors):
            output = self.model(**dict(zip(inputs, tensors)))
            return output.start_logits, output.end_logits

    return SpanLogits()


class _RuntimeQAModel:
    """In the reader's ``model`` place: called with the token tensors a transformers QA model
    takes, answers with its start and end logits, computed by ``run``."""

    def __init__(self, run: Runner, inputs: list[str], config) -> None:
        self.run = run
        self.inputs = inputs
        self.config = config

    def eval(self) -> "_RuntimeQAModel":
        return self

    def parameters(self):
        return iter(())

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        import torch

        start, end = self.run({name: given[name].numpy().astype(np.int64) for name in self.inputs})
        return SimpleNamespace(start_logits=torch.from_numpy(start), end_logits=torch.from_numpy(end))

    __call__ = forward
