"""``aiinfn-hub cluster`` without a built control plane: the build's bookkeeping (pins,
cache, progress, reuse) with a stand-in ``go``, and the one-line answers to bad input. The
control plane itself is tested by ``make test-cluster`` (tests/cluster)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aiinfn_hub.cluster import build
from aiinfn_hub.cluster.cluster import ClusterError, ClusterState, check_free
from aiinfn_hub.cluster.plugin import slurm_seconds, walltime_of

FAKE_GO = """#!/bin/sh
# A stand-in for the go command: `env GOVERSION`, `list -m -json MODULE`, `build ... -o OUT PKG`.
case "$1" in
  env) echo go1.26.8 ;;
  list) echo '{"Dir": "'"$FAKE_KUEUE"'"}' ;;
  build)
    while [ "$#" -gt 0 ]; do
      if [ "$1" = "-o" ]; then out="$2"; fi
      if [ "$1" = "-ldflags" ]; then flags="$2"; fi
      shift
    done
    echo "$flags" >> "$FAKE_LOG"
    if [ -n "$FAKE_FAIL" ]; then echo "cannot find module providing package x" >&2; exit 1; fi
    printf 'binary' > "$out" ;;
esac
"""


@pytest.fixture
def fake_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    go.write_text(FAKE_GO)
    go.chmod(0o755)
    kueue = tmp_path / "kueue-module"
    (kueue / "config/components/crd/bases").mkdir(parents=True)
    (kueue / "config/components/crd/patches").mkdir(parents=True)
    (kueue / "config/components/crd/bases/kueue.x-k8s.io_workloads.yaml").write_text("kind: x\n")
    (kueue / "config/components/crd/kustomization.yaml").write_text("patches: []\n")
    (kueue / "config/components/webhook").mkdir(parents=True)
    (kueue / "config/components/webhook/manifests.yaml").write_text("kind: y\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KUEUE", str(kueue))
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "go.log"))
    monkeypatch.setenv("AIINFN_CLUSTER_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_the_pins_name_every_tool_and_its_version() -> None:
    versions = build.pinned_versions()
    assert versions["k8s.io/kubernetes"].startswith("v1.3")
    assert int(versions["k8s.io/kubernetes"].split(".")[1]) >= 36
    assert versions["sigs.k8s.io/kueue"] >= "v0.17.0"
    assert "go.etcd.io/etcd/server/v3" in versions
    assert "github.com/virtual-kubelet/virtual-kubelet" in versions
    kubernetes = (build.GO_DIR / "kubernetes" / "go.mod").read_text()
    assert "k8s.io/api => k8s.io/api v0." in kubernetes  # staging modules replaced


def test_the_kubernetes_binaries_report_a_real_semantic_version() -> None:
    apiserver = next(b for b in build.BINARIES if b.name == "kube-apiserver")
    flags = apiserver.ldflags({"k8s.io/kubernetes": "v1.36.3"})
    assert "-X k8s.io/component-base/version.gitVersion=v1.36.3" in flags
    assert "-X k8s.io/component-base/version.gitMinor=36" in flags
    kueue = next(b for b in build.BINARIES if b.name == "kueue")
    assert kueue.ldflags({"sigs.k8s.io/kueue": "v0.17.0"}) == [
        "-X sigs.k8s.io/kueue/pkg/version.GitVersion=v0.17.0"
    ]


def test_build_prints_a_line_per_binary_then_does_nothing_when_complete(fake_go: Path) -> None:
    lines: list[str] = []
    cache = build.build(say=lines.append)
    assert cache.root.parent == fake_go / "cache"
    assert cache.complete
    names = [b.name for b in build.BINARIES]
    for name in names:
        assert any(line.startswith("[") and f"{name} built in" in line for line in lines), lines
    assert (cache.kueue / "crd" / "kueue.x-k8s.io_workloads.yaml").is_file()
    assert (cache.kueue / "webhooks.yaml").is_file()
    again: list[str] = []
    build.build(say=again.append)
    assert again == [f"cluster binaries are up to date in {cache.root}"]


def test_a_failed_build_names_the_command_and_the_error(
    fake_go: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "1")
    with pytest.raises(build.BuildError) as caught:
        build.build(say=lambda _line: None)
    message = str(caught.value)
    assert message.startswith("`go build -trimpath -ldflags")
    assert "cannot find module providing package x" in message
    assert not build.Cache.for_pins().complete


def test_without_go_the_build_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(build.BuildError, match=r"Go 1\.26 or newer is needed"):
        build.go_version()


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aiinfn_hub", "cluster", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_up_without_a_build_says_to_build_first(tmp_path: Path) -> None:
    done = run(
        "up", "--state-dir", str(tmp_path / "state"), env={"AIINFN_CLUSTER_CACHE": str(tmp_path)}
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "the control plane is not built" in lines[0]
    assert "run `aiinfn-hub cluster build` (or `make cluster`) first" in lines[0]


def test_a_second_up_on_the_same_state_dir_says_what_runs(tmp_path: Path) -> None:
    ClusterState(
        pid=os.getpid(),
        server="https://127.0.0.1:6443",
        kubeconfig=str(tmp_path / "kubeconfig"),
        admin_url="http://127.0.0.1:1",
        token="t",
        ports={},
    ).write(tmp_path)
    with pytest.raises(ClusterError) as caught:
        check_free(tmp_path)
    assert f"a cluster already runs from {tmp_path} (process {os.getpid()}" in str(caught.value)
    assert "https://127.0.0.1:6443" in str(caught.value)


def test_a_stale_state_file_does_not_block_a_new_up(tmp_path: Path) -> None:
    dead = subprocess.run(["true"])  # a finished process: its pid is free
    ClusterState(
        pid=2**22 + dead.returncode,
        server="https://127.0.0.1:6443",
        kubeconfig="k",
        admin_url="http://127.0.0.1:1",
        token="t",
        ports={},
    ).write(tmp_path)
    check_free(tmp_path)  # no error


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["fault", "refuse", "leonardo"], "no cluster runs from"),
        (["up", "--fault", "refuse"], "--fault refuse: name the site, e.g. refuse:leonardo"),
        (["up", "--fault", "melt:leonardo"], "--fault melt:leonardo: unknown fault 'melt'"),
        (["fault", "melt:leonardo"], "melt:leonardo: unknown fault 'melt'; faults: "),
        (["fault", "refuse:tier1", "leonardo"], "write the fault once"),
        (["fault", "exit-code:tier1:lost"], "the code is a number, e.g. exit-code:tier1:502"),
        (["fault", "kueue-restart:tier1"], "kueue-restart takes no site"),
        (["run"], "give the command to run after --"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    done = run(*args, "--state-dir", str(tmp_path)) if args[0] != "run" else run(*args)
    assert done.returncode == 2, done
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert words in done.stderr


def test_a_state_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    cache = build.Cache(tmp_path / "cache" / "x")
    cache.bin.mkdir(parents=True)
    for binary in build.BINARIES:
        cache.binary(binary.name).write_text("")
    (cache.kueue).mkdir()
    (cache.kueue / ".complete").touch()
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    from aiinfn_hub.cluster.cluster import Cluster

    with pytest.raises(ClusterError, match="cannot be used as the state folder"):
        Cluster(blocker, cache=cache).up()


def test_slurm_walltimes_read_as_slurm_reads_them() -> None:
    assert [slurm_seconds(t) for t in ("30", "1:30", "2:00:00", "1-2", "1-2:3", "1-2:3:4")] == [
        1800, 90, 7200, 93600, 93780, 93784,
    ]  # fmt: skip
    flagged = {
        "metadata": {"annotations": {"slurm-job.vk.io/flags": "--partition=x --time=0:05:00"}}
    }
    assert walltime_of(flagged) == 300
    assert walltime_of({"metadata": {}, "spec": {"activeDeadlineSeconds": 60}}) == 60
    assert walltime_of({"metadata": {}, "spec": {}}) is None


def test_the_state_file_is_private(tmp_path: Path) -> None:
    ClusterState(pid=1, server="s", kubeconfig="k", admin_url="a", token="secret", ports={}).write(
        tmp_path
    )
    assert (tmp_path / "state.json").stat().st_mode & 0o077 == 0
    assert json.loads((tmp_path / "state.json").read_text())["token"] == "secret"


@pytest.fixture
def admin_endpoint(tmp_path: Path):
    """A running cluster's fault endpoint as ``cluster up`` serves it (token, JSON in and out),
    recording each request and answering with the faults on, as :class:`ClusterFaults` does."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Admin(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert self.headers["Authorization"] == "Bearer secret"
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append(body)
            key = f"{body['fault']}:{body['site']}" if body.get("site") else body["fault"]
            record = {k: v for k, v in body.items() if k not in ("fault", "site")}
            on = {} if body.get("off") else {key: record}
            answer = json.dumps({"faults": on}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Admin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ClusterState(
        pid=os.getpid(),
        server="https://127.0.0.1:6443",
        kubeconfig="k",
        admin_url=f"http://127.0.0.1:{server.server_address[1]}",
        token="secret",
        ports={},
    ).write(tmp_path)
    yield received
    server.shutdown()


def test_a_fault_is_written_with_a_colon_or_a_space_and_answered_in_words(
    tmp_path: Path, admin_endpoint: list[dict], capsys: pytest.CaptureFixture
) -> None:
    from aiinfn_hub.cli import main

    state_dir = ["--state-dir", str(tmp_path)]
    assert main(["cluster", "fault", "refuse:tier1:condor_submit: no schedd", *state_dir]) == 0
    assert (
        main(
            [
                "cluster",
                "fault",
                "refuse",
                "tier1",
                "--message",
                "condor_submit: no schedd",
                *state_dir,
            ]
        )
        == 0
    )
    assert admin_endpoint[0] == admin_endpoint[1] == {
        "fault": "refuse", "site": "tier1", "off": False, "message": "condor_submit: no schedd"
    }  # fmt: skip
    said = capsys.readouterr().out.splitlines()
    assert said[:2] == [
        'refuse at tier1 is on: tier1 refuses new submissions, "condor_submit: no schedd".',
        "Faults on now: refuse:tier1.",
    ]
    assert main(["cluster", "fault", "interlink-down:leonardo", "--off", *state_dir]) == 0
    assert capsys.readouterr().out == "interlink-down at leonardo is off.\nFaults on now: none.\n"
    assert main(["cluster", "fault", "exit-code:tier1:502", "--json", *state_dir]) == 0
    assert admin_endpoint[-1]["code"] == 502
    assert json.loads(capsys.readouterr().out) == {
        "faults": {"exit-code:tier1": {"off": False, "code": 502}}
    }
    assert main(["cluster", "fault", "apiserver-stop:5", *state_dir]) == 0
    assert admin_endpoint[-1] == {"fault": "apiserver-stop", "off": False, "seconds": 5.0}
    assert capsys.readouterr().out.startswith(
        "apiserver-stop is on: kube-apiserver stops for 5 s, then starts again."
    )
