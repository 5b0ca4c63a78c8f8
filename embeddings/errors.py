"""The one error type the project raises for things a user can fix."""
from __future__ import annotations


class QAError(Exception):
    """A problem the user can act on: what was wrong, where, and what to do.

    The CLI prints ``str(error)`` as one line on stderr and exits 2; the app shows it in
    the chat. Never raise it for programming errors. ``key`` (with ``values``) names the
    message for a surface that speaks the user's language: the chat shows its own text for
    ``error_<key>`` (qa/web/texts.py) filled with ``values``, else ``str(error)``.
    """

    def __init__(self, message: str = "", *, key: str | None = None, **values: object) -> None:
        super().__init__(message)
        self.key = key
        self.values = values
