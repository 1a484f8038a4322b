"""Build the real control plane from Go modules, once, into a cache keyed by the pins.

The pins are the Go modules under ``aiinfn_hub/cluster/go/`` (one small module per tool
family, each a ``go.mod``/``go.sum`` pair whose only job is to build these binaries):
Kubernetes with the ``replace`` lines its staging modules need, etcd, Kueue, and the
interLink virtual kubelet. The cache lives in ``~/.cache/aiinfn-hub/cluster/<hash of the
pins>`` (``AIINFN_CLUSTER_CACHE`` overrides the parent folder); a complete cache is used as
it is, and nothing is ever committed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

GO_DIR = Path(__file__).parent / "go"
#: Kueue's manifests the control plane applies, copied from Kueue's module into the cache.
KUEUE_MANIFESTS = (
    "config/components/crd/bases",
    "config/components/crd/patches",
    "config/components/webhook/manifests.yaml",
)


class BuildError(Exception):
    """A build step failed; the message is one line saying what and how to fix it."""


@dataclass(frozen=True)
class Binary:
    """One program of the control plane and how it is built."""

    name: str
    module: str  # folder under GO_DIR holding the go.mod that pins it
    package: str  # the main package ('.' for the module's own)
    version_module: str = ""  # whose version goes into -ldflags ('' when none)

    def ldflags(self, versions: dict[str, str]) -> list[str]:
        """``-X`` flags so the binary reports a real semantic version (Kueue exits on a
        server version that is not one)."""
        version = versions.get(self.version_module, "")
        if self.version_module == "k8s.io/kubernetes":
            major, minor = version.lstrip("v").split(".")[:2]
            base = "k8s.io/component-base/version"
            return [
                f"-X {base}.gitVersion={version}",
                f"-X {base}.gitMajor={major}",
                f"-X {base}.gitMinor={minor}",
                f"-X {base}.gitTreeState=clean",
                f"-X {base}.buildDate=1970-01-01T00:00:00Z",
            ]
        if self.version_module == "sigs.k8s.io/kueue":
            return [f"-X sigs.k8s.io/kueue/pkg/version.GitVersion={version}"]
        return []


BINARIES = (
    Binary("etcd", "etcd", "go.etcd.io/etcd/server/v3"),
    Binary(
        "kube-apiserver", "kubernetes", "k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes"
    ),
    Binary(
        "kube-controller-manager",
        "kubernetes",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
        "k8s.io/kubernetes",
    ),
    Binary(
        "kube-scheduler", "kubernetes", "k8s.io/kubernetes/cmd/kube-scheduler", "k8s.io/kubernetes"
    ),
    Binary("kueue", "kueue", "sigs.k8s.io/kueue/cmd/kueue", "sigs.k8s.io/kueue"),
    Binary("interlink-vk", "interlink", "."),
)

_REQUIRE = re.compile(r"^\s*(?:require\s+)?(\S+)\s+(v\S+)\s*(?://.*)?$")


def pinned_versions(go_dir: Path = GO_DIR) -> dict[str, str]:
    """Every module required directly by the pins' go.mod files, with its version."""
    versions: dict[str, str] = {}
    for mod in sorted(go_dir.glob("*/go.mod")):
        block = False
        for line in mod.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("require ("):
                block = True
                continue
            if block and stripped == ")":
                block = False
                continue
            if "// indirect" in line or not (block or stripped.startswith("require ")):
                continue
            match = _REQUIRE.match(stripped)
            if match:
                versions[match.group(1)] = match.group(2)
    return versions


def pins_hash(go_dir: Path = GO_DIR) -> str:
    """A hash of every file of the pins (go.mod, go.sum, sources) and the Go toolchain."""
    return _tree_hash(go_dir)


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    digest.update(go_version().encode())
    return digest.hexdigest()[:12]


def _reuse(binary: Binary, cache: Cache, sources: str) -> Path | None:
    """The same binary in the build of older pins whose own module did not change."""
    for other in cache.root.parent.iterdir():
        if other == cache.root:
            continue
        try:
            recorded = json.loads((other / "sources.json").read_text())
        except (OSError, ValueError):
            continue
        found = other / "bin" / binary.name
        if recorded.get(binary.name) == sources and found.is_file():
            return found
    return None


def go_version() -> str:
    """``go1.26.8`` or the like; :class:`BuildError` when Go is missing."""
    go = shutil.which("go")
    if go is None:
        raise BuildError(
            "Go 1.26 or newer is needed to build the control plane: install it "
            "(https://go.dev/dl/) and put `go` on PATH"
        )
    return subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()


def cache_root() -> Path:
    default = Path.home() / ".cache" / "aiinfn-hub" / "cluster"
    return Path(os.environ.get("AIINFN_CLUSTER_CACHE") or default)


@dataclass(frozen=True)
class Cache:
    """The folder of one build of the pins: ``bin/`` and Kueue's manifests."""

    root: Path

    @classmethod
    def for_pins(cls, go_dir: Path = GO_DIR) -> Cache:
        return cls(cache_root() / pins_hash(go_dir))

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def kueue(self) -> Path:
        return self.root / "kueue"

    def binary(self, name: str) -> Path:
        return self.bin / name

    def missing(self) -> list[str]:
        """Binaries (and ``kueue-manifests``) not yet in the cache."""
        absent = [b.name for b in BINARIES if not self.binary(b.name).is_file()]
        if not (self.kueue / ".complete").is_file():
            absent.append("kueue-manifests")
        return absent

    @property
    def complete(self) -> bool:
        return not self.missing()

    def versions(self) -> dict[str, str]:
        path = self.root / "versions.json"
        return json.loads(path.read_text()) if path.is_file() else {}


def _run_go(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["go", *args], cwd=cwd, capture_output=True, text=True, check=False)


def _fail(command: list[str], cwd: Path, result: subprocess.CompletedProcess) -> BuildError:
    tail = (result.stderr or result.stdout).strip().splitlines()[-12:]
    return BuildError(
        f"`{' '.join(command)}` in {cwd} failed (exit {result.returncode}):\n  " + "\n  ".join(tail)
    )


def build_binary(binary: Binary, cache: Cache, versions: dict[str, str]) -> float:
    """Build one binary into the cache; returns the seconds it took."""
    cwd = GO_DIR / binary.module
    partial = cache.bin / f".{binary.name}.partial"
    ldflags = " ".join(["-s", "-w", *binary.ldflags(versions)])
    args = ["build", "-trimpath", "-ldflags", ldflags, "-o", str(partial), binary.package]
    started = time.monotonic()
    result = _run_go(args, cwd)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise _fail(["go", *args], cwd, result)
    partial.replace(cache.binary(binary.name))
    return time.monotonic() - started


def copy_kueue_manifests(cache: Cache) -> None:
    """Kueue's CRDs and webhook manifests, from the Kueue module the pins build."""
    cwd = GO_DIR / "kueue"
    args = ["list", "-m", "-json", "sigs.k8s.io/kueue"]
    result = _run_go(args, cwd)
    if result.returncode != 0:
        raise _fail(["go", *args], cwd, result)
    source = Path(json.loads(result.stdout)["Dir"])
    shutil.rmtree(cache.kueue, ignore_errors=True)
    bases, patches, webhooks = (source / part for part in KUEUE_MANIFESTS)
    for folder, into in ((bases, "crd"), (patches, "crd-patches")):
        (cache.kueue / into).mkdir(parents=True)
        for path in sorted(folder.glob("*.yaml")):  # copyfile: the module cache is read-only
            shutil.copyfile(path, cache.kueue / into / path.name)
    shutil.copyfile(webhooks, cache.kueue / "webhooks.yaml")
    shutil.copyfile(bases.parent / "kustomization.yaml", cache.kueue / "crd-kustomization.yaml")
    (cache.kueue / ".complete").touch()


def _say(line: str) -> None:
    print(line, flush=True)


def build(
    *, only: Iterable[str] = (), say: Callable[[str], None] = _say, go_dir: Path = GO_DIR
) -> Cache:
    """Build what the cache lacks (everything in ``only`` if given), a line per binary."""
    cache = Cache.for_pins(go_dir)
    versions = pinned_versions(go_dir)
    wanted = set(only)
    todo = [
        b
        for b in BINARIES
        if b.name in wanted or (not wanted and not cache.binary(b.name).is_file())
    ]
    manifests = not (cache.kueue / ".complete").is_file() or "kueue-manifests" in wanted
    if not todo and not manifests:
        say(f"cluster binaries are up to date in {cache.root}")
        return cache
    cache.bin.mkdir(parents=True, exist_ok=True)
    say(f"building the control plane into {cache.root} ({go_version()})")
    total = time.monotonic()
    sources = {b.name: _tree_hash(go_dir / b.module) for b in BINARIES}
    for index, binary in enumerate(todo, 1):
        pinned = versions.get(binary.version_module or binary.package, "")
        label = f"{binary.name} ({binary.version_module or binary.package} {pinned})".replace(
            " )", ")"
        )
        earlier = _reuse(binary, cache, sources[binary.name])
        if earlier is not None:
            shutil.copyfile(earlier, cache.binary(binary.name))
            cache.binary(binary.name).chmod(0o755)
            say(f"[{index}/{len(todo)}] {label}: unchanged, taken from {earlier.parent.parent}")
            continue
        say(f"[{index}/{len(todo)}] building {label} ...")
        seconds = build_binary(binary, cache, versions)
        say(f"[{index}/{len(todo)}] {binary.name} built in {seconds:.0f} s")
    if manifests:
        copy_kueue_manifests(cache)
        say("Kueue's CRDs and webhook manifests copied")
    (cache.root / "versions.json").write_text(json.dumps(versions, indent=1, sort_keys=True))
    (cache.root / "sources.json").write_text(json.dumps(sources, indent=1, sort_keys=True))
    say(f"done in {time.monotonic() - total:.0f} s; cache: {cache.root} ({_size(cache.root)})")
    for old in cache.root.parent.iterdir():
        if old != cache.root and old.is_dir() and (old / "versions.json").is_file():
            shutil.rmtree(old, ignore_errors=True)
            say(f"removed the build of older pins, {old}")
    return cache


def _size(path: Path) -> str:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return f"{total / 2**20:.0f} MiB"


def main() -> int:  # pragma: no cover - ``aiinfn-hub cluster build`` is the entry point
    try:
        build()
    except BuildError as exc:
        print(f"aiinfn-hub cluster build: {exc}", file=sys.stderr)
        return 1
    return 0
