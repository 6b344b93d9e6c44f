"""What a command prints for the person or script that ran it: one result, as JSON or as text.

Errors are not printed here: ``app.cli.main`` turns them into one line on stderr and an exit code.
"""
from __future__ import annotations

import json
import sys
from typing import Any


def show(args: Any, data: dict, human: str) -> None:
    """The result on stdout: ``data`` as one JSON object with ``--json``, else ``human``."""
    print(json.dumps(data) if getattr(args, "json", False) else human)


def progress_line(text: str) -> None:
    """A progress line that rewrites itself on stderr (ended by ``end_progress``)."""
    print(f"\r{text}", end="", file=sys.stderr, flush=True)


def end_progress() -> None:
    print(file=sys.stderr)
