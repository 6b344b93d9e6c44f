"""The import structure, as docs/architecture.md draws it: no cycle among app/ modules (imports
inside functions counted too), and the front end reaches the engine side only through its client,
protocol, supervisor, remote and model-store modules."""
from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
FRONT_END_MAY_USE = ("app.engines.client", "app.engines.protocol", "app.engines.supervisor",
                     "app.engines.remote", "app.engines.models", "app.engines.download")


def modules() -> dict[str, Path]:
    found = {}
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Every app module ``path`` imports, wherever the import stands."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import sub` imports the module pkg.sub; `from pkg import name`, pkg itself
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known
                     else node.module for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:       # a name inside a module: the module
                name = name.rpartition(".")[0]
            if name.startswith("app.") or name == "app":
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    g = {}
    for name, path in known.items():
        deps = imports(path, known) - {name}
        # a package's __init__ re-exports its modules: importing the package means its __init__
        g[name] = {d for d in deps if d != "app"}
    return g


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_among_app_modules():
    assert cycles(graph()) == []


def test_the_front_end_uses_only_the_engine_client_side():
    g = graph()
    for name, deps in g.items():
        if not name.startswith(("app.ui", "app.session")):
            continue
        engine_side = {d for d in deps if d.startswith("app.engines")}
        wrong = {d for d in engine_side if not d.startswith(FRONT_END_MAY_USE)}
        assert not wrong, f"{name} imports engine internals: {sorted(wrong)}"


def test_the_session_layer_does_not_import_qt():
    for name, path in modules().items():
        if name.startswith("app.session"):
            assert "PySide6" not in path.read_text(), name


def test_assistant_and_text_stay_off_the_engine_side():
    """The assistant reaches speech only through the engine's protocol; app/text (shared by the
    engine core and the assistant) stands below both and imports only the errors module."""
    g = graph()
    for name, deps in g.items():
        if name.startswith("app.text"):
            assert deps <= {"app.errors", "app.text", "app.text.normalize"}, (name, sorted(deps))
        if name.startswith("app.assistant"):
            wrong = {d for d in deps if d.startswith("app.engines") and d != "app.engines.protocol"}
            assert not wrong, f"{name} imports the engine side: {sorted(wrong)}"


def test_the_voice_library_stands_below_the_engine():
    """The engine reads the library; the library never imports the engine (the voice it hands to
    the tiers, VoiceRef, is its own plain data)."""
    for name, deps in graph().items():
        if name.startswith("app.voices"):
            wrong = {d for d in deps if d.startswith("app.engines")}
            assert not wrong, f"{name} imports the engine side: {sorted(wrong)}"
