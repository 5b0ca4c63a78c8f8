"""The flags of ``python app.py`` and ``qa serve`` (kept apart from the app so that ``qa --help``
does not load Gradio). Unset flags keep the Settings/environment values."""
from __future__ import annotations

import argparse

from qa.settings import add_index_options, add_reader_option


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 7860)")
    add_index_options(parser)
    add_reader_option(parser)
    parser.add_argument("--batch-size", type=int, default=None, metavar="N",
                        help="questions of several users answered together, at most N in a batch "
                             "(default 16 or $QA_BATCH_SIZE; 1: one at a time)")
    parser.add_argument("--read-only", action="store_true",
                        help="hide 'Add an article': nobody can change the corpus from the browser")
    parser.add_argument("--share", action="store_true",
                        help="also serve through a public gradio.live link (off by default)")
