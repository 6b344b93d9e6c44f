"""The entry point: ``python -m app``, the ``kaytoo`` script and the frozen executable."""
from __future__ import annotations

import sys

from app.bootstrap import prepare_process
from app.cli import main as cli_main


def main() -> int:
    prepare_process()
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
