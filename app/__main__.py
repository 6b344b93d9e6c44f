"""The entry point: ``python -m app``, the ``kaytoo`` script and the frozen executable."""
from __future__ import annotations

import logging
import os
import sys

from app.bootstrap import prepare_process
from app.cli import main as cli_main


def main() -> int:
    prepare_process()
    return cli_main()


def run() -> None:
    """main(), then leave without the interpreter's teardown: a one-shot command may leave a
    model loading in a daemon thread (a tier abandoned at its deadline goes on loading for the
    next reply), and tearing the interpreter down under onnxruntime's native code aborts the
    process (exit 134) after the answer was already written. Every file is written atomically
    before this point; output and logs are flushed here."""
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
