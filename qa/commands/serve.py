"""``qa serve`` starts the browser chat, exactly as ``python app.py`` does."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from types import ModuleType

from qa.errors import QAError
from qa.settings import REPO_ROOT


def load_app_module() -> ModuleType:
    """The top-level app.py of this checkout (the chat lives beside the package, not in it)."""
    if "app" in sys.modules and getattr(sys.modules["app"], "serve", None):
        return sys.modules["app"]
    path = REPO_ROOT / "app.py"
    if not path.is_file():
        raise QAError(f"{path} not found: qa serve needs the repository checkout; "
                      "run it from a clone (pip install -e .) or use python app.py there")
    spec = importlib.util.spec_from_file_location("app", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    return module


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``python app.py`` and ``qa serve`` (unset flags keep Settings/env values)."""
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 7860)")
    parser.add_argument("--corpus", help="folder of .txt/.md articles (default seeds/)")
    parser.add_argument("--index-dir", help="where the index is kept (default index/)")
    parser.add_argument("--embedding-model", help="'e5-small' (offline default), a "
                        "sentence-transformers name or a local folder")
    parser.add_argument("--reader", help="'builtin' (offline e5-small-qa-de), a transformers "
                        "QA model name or a local folder")
    parser.add_argument("--read-only", action="store_true",
                        help="hide 'Add an article': nobody can change the corpus from the browser")
    parser.add_argument("--share", action="store_true",
                        help="also serve through a public gradio.live link (off by default)")


def _serve(args: argparse.Namespace) -> int:
    return load_app_module().serve(args)


def register(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve", help="start the browser chat (same as python app.py)",
        description="Load or build the index, load the models once and serve the chat on "
                    "http://127.0.0.1:7860. Basic auth: set QA_AUTH_USER and QA_AUTH_PASSWORD.")
    add_serve_arguments(serve)
    serve.set_defaults(handler=_serve)
