"""The sandbox stands apart from the product: it imitates Kubernetes, Kueue and interLink, and
must not borrow the jobs service's, placement's or the spawner's code (the contract tests would
then prove the product against itself). Read from the source (every import statement, also
those inside functions), following the modules outside the sandbox it does import."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import aiinfn_hub

ROOT = Path(aiinfn_hub.__file__).parent
PACKAGE = "aiinfn_hub"
SANDBOX = f"{PACKAGE}.sandbox"
#: The product: what the sandbox stands in for the cluster of.
PRODUCT = (
    "aiinfn_hub.jobs",
    "aiinfn_hub.placement",
    "aiinfn_hub.spawner",
    "aiinfn_hub.serverext",
    "aiinfn_hub.hubconfig",
    "aiinfn_hub.hubprocess",
    "aiinfn_hub.demo",
    "aiinfn_hub.cluster",
)


def _module_file(module: str) -> Path | None:
    """The source file of a module of this package, if it is one."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = ROOT.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module of this package a source file imports (relative imports resolved; a name
    imported from a package counts as its submodule where there is one)."""
    module = _module_name(path)
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
            names += [
                f"{origin}.{a.name}" for a in node.names if _module_file(f"{origin}.{a.name}")
            ]
        else:
            continue
        yield from (n for n in names if n == PACKAGE or n.startswith(f"{PACKAGE}."))


def _outside_imports() -> dict[str, set[str]]:
    """Each module outside the sandbox that the sandbox reaches through its imports (and
    the imports of what it reaches), with the modules importing it."""
    todo = sorted((ROOT / "sandbox").rglob("*.py"))
    seen: set[Path] = set(todo)
    reached: dict[str, set[str]] = {}
    while todo:
        path = todo.pop()
        importer = _module_name(path)
        for name in _imports(path):
            if name == SANDBOX or name.startswith(f"{SANDBOX}."):
                continue
            reached.setdefault(name, set()).add(importer)
            source = _module_file(name)
            if source is not None and source not in seen:
                seen.add(source)
                todo.append(source)
    return reached


def _is_product(module: str) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in PRODUCT)


def test_the_sandbox_imports_nothing_of_the_product() -> None:
    reached = _outside_imports()
    # where the sandbox (or a helper it imports) steps into the product: the first step only
    wrong = {
        module: sorted(b for b in by if not _is_product(b))
        for module, by in reached.items()
        if _is_product(module) and any(not _is_product(b) for b in by)
    }
    assert not wrong, f"the sandbox imports the product (module: importers): {wrong}"


def test_the_reading_sees_the_shared_helpers_the_sandbox_does_import() -> None:
    # the reading itself works: the helpers the sandbox is known to share are found, through
    # relative imports of several levels (controllers/kueue/ is four levels down)
    reached = _outside_imports()
    assert "aiinfn_hub.kueuenames" in reached
    assert "aiinfn_hub.sandbox.controllers.kueue.words" in reached["aiinfn_hub.kueuenames"]
    assert "aiinfn_hub.children" in reached
    assert not _is_product("aiinfn_hub.kueuenames")
    assert _is_product("aiinfn_hub.jobs.manager")
