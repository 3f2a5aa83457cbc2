"""The graph of neutex-internal imports, and its cycles.

Reads every module under ``src/neutex`` with :mod:`ast` (nothing is imported), records each
``import neutex.x`` / ``from neutex.x import y`` / relative import, at module level and inside
functions, and prints the strongly connected components with more than one module (import
cycles) and, with ``--function-level``, every internal import made inside a function.

    python scripts/import_graph.py                 # cycles over all imports; exit 1 if any
    python scripts/import_graph.py --module-level  # cycles over module-level imports only
    python scripts/import_graph.py --function-level  # list imports made inside functions

A package's ``__init__`` counts as a module. ``from neutex.pkg import name`` is an edge to
``neutex.pkg.name`` when that is a module, else to ``neutex.pkg``; when ``neutex.pkg`` exports
``name`` lazily (a ``_LAZY = {name: module}`` dict for :func:`neutex.lazy.lazy_exports`), it is
also an edge to that module, since using the name imports it. Imports under
``if TYPE_CHECKING:`` are ignored (they never run).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "neutex"


def module_names(root: Path = ROOT) -> dict[str, Path]:
    """``{dotted module name: file}`` for every ``.py`` file of the package."""
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[tuple[ast.stmt, bool]]:
    """Every import statement of ``tree`` with whether it sits inside a function."""
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, in_function))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


def lazy_names(path: Path) -> dict[str, str]:
    """``{name: module}`` of a package ``__init__``'s ``_LAZY`` dict literal (empty without one)."""
    for node in ast.parse(path.read_text(), str(path)).body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets)
                and isinstance(node.value, ast.Dict)):
            return {k.value: v.value for k, v in zip(node.value.keys, node.value.values)
                    if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)}
    return {}


def _targets(node: ast.stmt, module: str, is_package: bool, modules: dict[str, Path],
             lazy: dict[str, dict[str, str]]) -> list[str]:
    """The neutex modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        return [_nearest(n, modules) for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")]
    base = node.module or ""
    if node.level:
        here = module.split(".") if is_package else module.split(".")[:-1]
        here = here[:len(here) - (node.level - 1)]
        base = ".".join(here + ([base] if base else []))
    if base != PACKAGE and not base.startswith(PACKAGE + "."):
        return []
    out = []
    for a in node.names:
        sub = f"{base}.{a.name}"
        if sub in modules:
            out.append(sub)
            continue
        out.append(_nearest(base, modules))
        if a.name in lazy.get(base, {}):
            out.append(lazy[base][a.name])
    return out


def _nearest(name: str, modules: dict[str, Path]) -> str:
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def build_graph(function_level: bool = True, root: Path = ROOT):
    """``(edges, calls)``: ``{module: set of imported modules}`` (self-edges dropped) and the list
    of ``(module, line, target)`` imports made inside functions."""
    modules = module_names(root)
    edges: dict[str, set[str]] = {m: set() for m in modules}
    inside = []
    lazy = {m: lazy_names(p) for m, p in modules.items() if p.name == "__init__.py"}
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        for node, in_fn in _imports(tree):
            for t in _targets(node, mod, path.name == "__init__.py", modules, lazy):
                if in_fn and (mod, node.lineno, t) not in inside:
                    inside.append((mod, node.lineno, t))
                if t != mod and (function_level or not in_fn):
                    edges[mod].add(t)
    return edges, inside


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
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

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--module-level", action="store_true", help="ignore imports made inside functions")
    p.add_argument("--function-level", action="store_true", help="list internal imports made inside functions")
    args = p.parse_args(argv)
    edges, inside = build_graph(function_level=not args.module_level)
    if args.function_level:
        for mod, line, target in inside:
            print(f"{mod}:{line} -> {target}")
        print(f"{len(inside)} internal imports inside functions")
    found = cycles(edges)
    kind = "module-level" if args.module_level else "all"
    for comp in found:
        print(f"cycle ({len(comp)}): " + " <-> ".join(comp))
    print(f"{len(found)} import cycles ({kind} imports, {sum(map(len, edges.values()))} edges, {len(edges)} modules)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
