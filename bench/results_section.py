"""One bench's own section of a shared results file (bench/results/*.md), between
``<!-- name -->`` and ``<!-- /name -->``: rerunning one bench replaces its block and keeps the others'."""
from __future__ import annotations

from pathlib import Path

from app import atomic


def write_section(path: Path, name: str, text: str, title: str = "# Results") -> None:
    """Replace (or append) the block ``name`` in ``path``; a new file starts with ``title``."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    old = path.read_text(encoding="utf-8") if path.is_file() else f"{title}\n"
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in old and end in old:
        new = old[:old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, new)
