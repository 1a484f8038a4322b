"""Which modules of the package a part of it imports, read from the source (every import
statement, also those inside functions), following the modules outside that part it does
import: for the tests that keep the layers apart (tests/sandbox/test_imports.py,
tests/test_layers.py)."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from pathlib import Path

import aiinfn_hub

ROOT = Path(aiinfn_hub.__file__).parent
PACKAGE = "aiinfn_hub"


def module_file(module: str) -> Path | None:
    """The source file of a module of this package, if it is one."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = ROOT.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[str]:
    """Every module of this package a source file imports (relative imports resolved; a name
    imported from a package counts as its submodule where there is one)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                origin = f"{base}.{node.module}" if node.module else base
            else:
                origin = node.module or ""
            names = [origin]
            names += [f"{origin}.{a.name}" for a in node.names if module_file(f"{origin}.{a.name}")]
        else:
            continue
        yield from (n for n in names if n == PACKAGE or n.startswith(f"{PACKAGE}."))


def within(module: str, packages: Sequence[str]) -> bool:
    """Whether ``module`` is one of ``packages`` or inside one."""
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def outside_imports(part: str) -> dict[str, set[str]]:
    """Each module outside ``part`` (a subpackage, e.g. ``sandbox``) that ``part`` reaches
    through its imports (and the imports of what it reaches), with the modules importing it."""
    inside = f"{PACKAGE}.{part}"
    todo = sorted((ROOT / part).rglob("*.py"))
    seen: set[Path] = set(todo)
    reached: dict[str, set[str]] = {}
    while todo:
        path = todo.pop()
        importer = module_name(path)
        for name in imports(path):
            if within(name, [inside]):
                continue
            reached.setdefault(name, set()).add(importer)
            source = module_file(name)
            if source is not None and source not in seen:
                seen.add(source)
                todo.append(source)
    return reached


def first_steps(reached: dict[str, set[str]], forbidden: Sequence[str]) -> dict[str, list[str]]:
    """Where the reading steps into ``forbidden`` packages: each forbidden module with the
    importers outside them (the first step only)."""
    return {
        module: sorted(b for b in by if not within(b, forbidden))
        for module, by in reached.items()
        if within(module, forbidden) and any(not within(b, forbidden) for b in by)
    }
