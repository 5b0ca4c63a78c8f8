"""Readers by name: "builtin" (e5-small-qa-de, assembled offline), a local model folder or a
hub name, with a warning and the built-in model when a configured one cannot be loaded."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from embeddings.errors import QAError
from qa.reading import builtin as builtin_model
from qa.reading.reader import DEFAULT_MODE, ReadMode, TransformersReader, quantize_model, ranking_option_problem
from qa.reading.runtime import check_reader_backend, with_reader_backend

__all__ = ["BUILTIN_NAMES", "load_reader", "ranking_option_problem"]

log = logging.getLogger(__name__)

BUILTIN_NAMES = ("builtin", "e5-small-qa-de")


def load_reader(name_or_path: str, *, cache_dir: Path, quantize: bool = False,
                mode: ReadMode = DEFAULT_MODE, fallback: Callable[[], TransformersReader] | None = None,
                backend: str = "torch", **reader_kwargs) -> TransformersReader:
    """A reader for ``name_or_path``: "builtin", a local model folder or a hub name, its forward
    pass run by ``backend`` ("torch" or "openvino", qa.reading.runtime).

    A model that cannot be loaded (offline, typo, not a QA model) gives one WARNING line with
    the reason and ``fallback()`` (default: the built-in model) takes over; ``reader.name``
    says which one is active.
    """
    check_reader_backend(backend)
    reader = _load_reader(name_or_path, cache_dir=cache_dir, quantize=quantize, mode=mode, fallback=fallback,
                          **reader_kwargs)
    return with_reader_backend(reader, backend, cache_dir=cache_dir)


def _load_reader(name_or_path: str, *, cache_dir: Path, quantize: bool, mode: ReadMode,
                 fallback: Callable[[], TransformersReader] | None, **reader_kwargs) -> TransformersReader:
    def builtin() -> TransformersReader:
        return builtin_model.load_builtin_reader(
            cache_dir=cache_dir, quantize=quantize, mode=mode, **reader_kwargs)

    if name_or_path in BUILTIN_NAMES:
        return builtin()
    try:
        model, tokenizer = _load_transformers_model(name_or_path)
        reader = TransformersReader(model, tokenizer, name=name_or_path, mode=mode, **reader_kwargs)
    except QAError as error:
        reason = str(error)
    except Exception as error:  # offline, typo, not a QA model: all end in the fallback model
        reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    else:
        if quantize:
            reader.model = quantize_model(reader.model)
        return reader
    replacement = builtin() if fallback is None else fallback()
    log.warning("reader model %r could not be loaded (%s); using %s instead",
                name_or_path, reason[:300], replacement.name)
    return replacement


def _load_transformers_model(name_or_path: str):
    """Load a QA model + fast tokenizer from a local folder or the hub, failing fast and quietly
    (the caller reports the reason in one line)."""
    import os

    import transformers
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    path = Path(name_or_path).expanduser()
    local = path.is_dir()
    if not local:
        if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
            raise QAError(f"no model folder at {path}")
        if os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "True"):
            raise QAError("HF_HUB_OFFLINE is set and the model is not in the local hub cache")
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    hub_logger = logging.getLogger("huggingface_hub")
    hub_level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        source = str(path) if local else name_or_path
        try:  # a folder, or a hub model already in the local cache: no network needed
            return (AutoModelForQuestionAnswering.from_pretrained(source, local_files_only=True),
                    AutoTokenizer.from_pretrained(source, local_files_only=True))
        except OSError:
            if local:
                raise
        if not _hub_reachable():
            raise QAError("the model hub cannot be reached (offline?) and the model is not in "
                          "the local hub cache")
        return (AutoModelForQuestionAnswering.from_pretrained(name_or_path),
                AutoTokenizer.from_pretrained(name_or_path))
    finally:
        transformers.logging.set_verbosity(verbosity)
        hub_logger.setLevel(hub_level)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """One quick TCP connection to the hub, instead of the hub client's minute of retries."""
    import os
    import socket
    from urllib.parse import urlparse

    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


