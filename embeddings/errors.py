"""The one error type the project raises for things a user can fix."""
from __future__ import annotations


class QAError(Exception):
    """A problem the user can act on: what was wrong, where, and what to do.

    The CLI prints ``str(error)`` as one line on stderr and exits 2; the app shows it in
    the chat. Never raise it for programming errors.
    """
