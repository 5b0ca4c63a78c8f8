"""Where rebuilt model weights live (never committed)."""
from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """$QA_CACHE_DIR, else $XDG_CACHE_HOME/newsqa, else ~/.cache/newsqa."""
    env = os.environ.get("QA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newsqa"
