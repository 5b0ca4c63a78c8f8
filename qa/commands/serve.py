"""``qa serve`` starts the browser chat, exactly as ``python app.py`` does."""
from __future__ import annotations

import argparse


def _serve(args: argparse.Namespace) -> int:
    from qa.web.server import serve   # Gradio loads only for this command

    return serve(args, load_system=args.load_system)


def register(subparsers) -> None:
    from qa.web.options import add_serve_arguments

    serve = subparsers.add_parser(
        "serve", help="start the browser chat (same as python app.py)",
        description="Load or build the index, load the models once and serve the chat on "
                    "http://127.0.0.1:7860. Basic auth: set QA_AUTH_USER and QA_AUTH_PASSWORD.")
    add_serve_arguments(serve)
    serve.set_defaults(handler=_serve)
