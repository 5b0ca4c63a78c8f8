"""Runtimes for the e5 encoder's transformer: torch, ONNX Runtime, ONNX Runtime int8, OpenVINO
(the default).

sentence-transformers' own ``backend="onnx"/"openvino"`` goes through optimum-onnx (needs
transformers < 4.58) and optimum-intel (< 5.6), which cannot be installed beside this project's
transformers 5.23. So the BertModel is exported here with ``torch.onnx.export`` (once, into the
cache folder, atomically) and its forward pass is swapped for a runtime's, inside an unchanged
``SentenceTransformer``: tokenization, length-sorted batching, mean pooling and normalisation
stay sentence-transformers' own, so only the transformer's arithmetic differs. The export and
runner helpers serve the reader's forward pass too (qa/reading/runtime.py).
"""
from __future__ import annotations

import copy
import logging
import os
import time
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import numpy as np

from embeddings.atomic import atomic_directory, atomic_file
from embeddings.errors import QAError

log = logging.getLogger(__name__)
R = TypeVar("R")

BACKENDS = ("torch", "onnx", "onnx-int8", "openvino")
# OpenVINO: 1.9-2.6× torch's chunks/s on 2 cores with torch's vectors (cosine 1.00000) and the
# same GermanQuAD MRR@5 (docs/BENCHMARKS.md, "Embedding backends on one CPU"); an index built
# with torch is kept (same fingerprint).
DEFAULT_BACKEND = "openvino"
# Backends whose vectors are today's torch vectors up to float rounding (cosine ≥ 0.99999 in
# benchmarks/embed_backends.py): an index built with one is kept when another is chosen. int8
# changes the weights, so its vectors are not interchangeable and its index is its own.
EQUIVALENT_TO_TORCH = frozenset({"torch", "onnx", "openvino"})
ONNX_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
# Bump when the export changes (opset, inputs), so cached exports are made again.
EXPORT_VERSION = 1


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise QAError(f"unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)} "
                      "(--embedding-backend or QA_EMBEDDING_BACKEND)")
    return backend


def fingerprint_suffix(backend: str) -> str:
    """What a backend adds to the model fingerprint: nothing when its vectors equal torch's."""
    return "" if backend in EQUIVALENT_TO_TORCH else f"+{backend}"


def _threads() -> int:
    return int(os.environ.get("QA_THREADS", os.cpu_count() or 1))


def example_inputs(names: Sequence[str]) -> dict[str, "torch.Tensor"]:
    """Example token inputs for an export, by name (input_ids, attention_mask, token_type_ids).
    A padded row among them, so the traced graph keeps the attention mask (an all-ones mask can
    be optimised away)."""
    import torch

    input_ids = torch.tensor([[0, 10, 11, 12, 2], [0, 10, 2, 1, 1]])
    values = {"input_ids": input_ids, "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
              "token_type_ids": torch.zeros_like(input_ids)}
    return {name: values[name] for name in names}


def export_graph(module, target: Path, *, inputs: Sequence[str], outputs: Sequence[str], what: str,
                 replace: bool = False) -> Path:
    """``module`` (its forward takes ``inputs`` in order and returns ``outputs``) as
    ``target/model.onnx``: exported once (atomically), kept unless ``replace``. The first two
    axes of every input and output (batch, tokens) are dynamic."""
    path = Path(target) / ONNX_FILE
    if path.exists() and not replace:
        return path
    import torch

    log.info("exporting %s to ONNX in %s (first use only)", what, target)
    started = time.perf_counter()
    dynamic = {0: "batch", 1: "tokens"}
    with atomic_directory(Path(target)) as tmp, torch.no_grad():
        torch.onnx.export(module.eval(), tuple(example_inputs(inputs).values()), str(tmp / ONNX_FILE),
                          dynamo=False, opset_version=17, input_names=list(inputs), output_names=list(outputs),
                          dynamic_axes={name: dynamic for name in (*inputs, *outputs)})
    log.info("exported in %.1f s", time.perf_counter() - started)
    return path


def export_onnx(transformer, target: Path, *, replace: bool = False) -> Path:
    """``transformer`` (a BertModel-like ``PreTrainedModel``) as ``target/model.onnx`` (cached)."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return export_graph(LastHiddenState(transformer.eval()), target, inputs=["input_ids", "attention_mask"],
                        outputs=["last_hidden_state"], what="the embedding model", replace=replace)


def compile_export(export: Callable[[bool], Path], compile: Callable[[Path], R], *, what: str) -> R:
    """``compile(export(False))``: the cached export made into a runner. An export that cannot
    be loaded (damaged, cut short) is logged, made again (``export(True)``) and compiled once
    more; if that fails too, a QAError says so. ImportError (runtime missing) passes through."""
    for replace in (False, True):
        path = export(replace)
        try:
            return compile(path)
        except ImportError:
            raise
        except Exception as error:
            reason = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:200]}"
            if not replace:
                log.warning("the ONNX export of %s in %s cannot be loaded (%s); exporting it again",
                            what, path.parent, reason)
    raise QAError(f"the ONNX export of {what} in {path.parent} cannot be loaded even when made again "
                  f"({reason}); delete that folder or use the torch backend")


def quantize_int8(onnx_path: Path) -> Path:
    """Dynamic int8 quantisation of the exported model (weights int8, activations per batch)."""
    path = Path(onnx_path).with_name(INT8_FILE)
    if path.exists():
        return path
    from onnxruntime.quantization import QuantType, quantize_dynamic

    log.info("quantising %s to int8 (first use only)", onnx_path)
    with atomic_file(path) as tmp:
        quantize_dynamic(str(onnx_path), str(tmp), weight_type=QuantType.QInt8)
    return path


Runner = Callable[[dict[str, np.ndarray]], list[np.ndarray]]   # inputs by name -> outputs in order


def _onnxruntime_runner(path: Path) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = _threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return session.run(None, inputs)
    return run   # InferenceSession.run is safe to call from several threads


def openvino_runner(path: Path) -> Runner:
    """The ONNX file at ``path`` compiled by OpenVINO for the CPU (float32, dynamic shapes)."""
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(path)), "CPU",
                                  {"INFERENCE_NUM_THREADS": _threads(), "INFERENCE_PRECISION_HINT": "f32"})

    n_outputs = len(compiled.outputs)

    def run(inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        request = compiled.create_infer_request()   # one per call: requests are not thread-safe
        request.infer(inputs)
        return [request.get_output_tensor(i).data.copy() for i in range(n_outputs)]
    return run


def _runtime_module(run: Runner, config):
    """A torch module with BertModel's call shape whose forward is ``run``: it takes the place of
    the transformer inside sentence-transformers' Transformer module."""
    import torch

    class RuntimeTransformer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = config

        def forward(self, input_ids, attention_mask, **_):
            hidden = run({"input_ids": input_ids.numpy().astype(np.int64),
                          "attention_mask": attention_mask.numpy().astype(np.int64)})[0]
            return {"last_hidden_state": torch.from_numpy(hidden)}

    return RuntimeTransformer()


def with_backend(model, backend: str, *, export_dir: Path):
    """``model`` (a loaded SentenceTransformer whose first module is a Transformer) running its
    transformer on ``backend``; exports go to ``export_dir`` (cached). torch returns ``model``."""
    check_backend(backend)
    if backend == "torch":
        return model
    first_name, first = next(iter(model._modules.items()))
    if not hasattr(getattr(first, "model", None), "config"):
        raise QAError(f"the {backend} embedding backend needs a sentence-transformers model whose first module "
                      f"is a transformer, not {type(first).__name__}; use --embedding-backend torch")
    try:
        if backend == "openvino":
            compile = openvino_runner
        elif backend == "onnx-int8":
            def compile(path: Path) -> Runner:
                return _onnxruntime_runner(quantize_int8(path))
        else:
            compile = _onnxruntime_runner
        runner = compile_export(lambda replace: export_onnx(first.model, export_dir, replace=replace), compile,
                                what="the embedding model")
    except ImportError as error:
        package = "openvino==2026.4.1" if backend == "openvino" else "onnxruntime==1.32.0 onnx==1.23.2"
        raise QAError(f"the {backend} embedding backend needs {error.name}: pip install {package} "
                      "(or use --embedding-backend torch)") from None
    swapped = copy.copy(model)
    swapped._modules = copy.copy(model._modules)
    clone = copy.copy(first)
    clone._modules = copy.copy(first._modules)
    clone.model = _runtime_module(runner, first.model.config)
    swapped._modules[first_name] = clone
    card = getattr(model, "model_card_data", None)
    if getattr(card, "model", None) is model:
        # sentence-transformers' model card points back at its model: shared by the copy, it
        # kept the torch weights (~450 MB for e5-small) alive beside the runtime's own copy
        swapped.model_card_data = copy.copy(card)
        swapped.model_card_data.model = swapped
    return swapped
