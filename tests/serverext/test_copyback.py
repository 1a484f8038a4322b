"""Copy-back's two ends without a cluster: the server packs the files changed since it started
(newest first, up to the limit, caches left out, the rest listed with why), served by its
extension; the copy pod writes them into a new folder of the home, never over a file there,
skips those identical to the home's, refuses paths out of the folder, and writes a report."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from pathlib import Path

from aiinfn_hub.homecopy import MANIFEST, REPORT, unpack
from aiinfn_hub.serverext.copyback import pack, select_changed
from aiinfn_hub.spawner.copyback import (
    CopyBackPlan,
    copy_pod,
    describe,
    home_of,
    pod_name,
    summary_of,
)

from .conftest import extension_of


def write(path: Path, data: bytes, mtime: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def test_the_server_selects_what_changed_newest_first_up_to_the_limit(tmp_path):
    write(tmp_path / "old.txt", b"before the server")
    time.sleep(0.05)
    since = time.time()
    time.sleep(0.05)
    write(tmp_path / "results" / "model.txt", b"m" * 300, mtime=since + 50)
    write(tmp_path / "notes.ipynb", b"n" * 200, mtime=since + 60)
    write(tmp_path / "big.bin", b"b" * 900, mtime=since + 70)  # newest, but too big
    write(tmp_path / ".cache" / "pip" / "wheel", b"w" * 10)
    (tmp_path / "link").symlink_to(tmp_path / "notes.ipynb")
    selection = select_changed(tmp_path, since, 600)
    assert selection.copied == [("notes.ipynb", 200), ("results/model.txt", 300)]
    assert {"path": ".cache/", "size": None, "why": "a cache folder"} in selection.left_out
    assert {"path": "big.bin", "size": 900, "why": "over the 600-byte limit"} in (
        selection.left_out
    )
    assert {"path": "link", "size": None, "why": "not a plain file"} in selection.left_out
    assert not any(x["path"] == "old.txt" for x in selection.left_out)


def archive_of(root: Path, since: float, limit: int, tmp_path: Path) -> bytes:
    target = tmp_path / "archive.tar"
    pack(root, select_changed(root, since, limit), target, since)
    return target.read_bytes()


def test_the_copy_pod_writes_a_new_folder_with_a_report_and_overwrites_nothing(tmp_path):
    server, home = tmp_path / "scratch", tmp_path / "home"
    since = time.time() - 10
    write(server / "results" / "model.txt", b"new weights")
    write(server / "examples" / "cpu-job.ipynb", b"the example")  # copied at start, unchanged
    write(server / "analysis.py", b"print(2)")  # changed: the home has another version
    write(server / "big.bin", b"b" * 5000)
    write(home / "examples" / "cpu-job.ipynb", b"the example")
    write(home / "analysis.py", b"print(1)")
    data = archive_of(server, since, 1000, tmp_path)

    summary = unpack(io.BytesIO(data), home, "from-leonardo-x", 1000)
    assert summary == {
        "folder": "from-leonardo-x",
        "copied": 2,
        "bytes": len(b"new weights") + len(b"print(2)"),
        "unchanged": 1,
        "left_out": 1,
    }
    folder = home / "from-leonardo-x"
    assert (folder / "results" / "model.txt").read_bytes() == b"new weights"
    assert (folder / "analysis.py").read_bytes() == b"print(2)"
    assert (home / "analysis.py").read_bytes() == b"print(1)", "the home's file is untouched"
    assert not (folder / "examples").exists(), "an unchanged file is not copied"
    report = (folder / REPORT).read_text()
    assert "- results/model.txt (11 bytes)" in report
    assert "- examples/cpu-job.ipynb" in report  # under "the same as in your home folder"
    assert "- big.bin, 5,000 bytes: over the 1,000-byte limit" in report
    assert not list(home.rglob("*.copying"))
    assert "2 changed files (19 bytes) of your remote server were copied to from-leonardo-x/" in (
        describe(summary)
    )


def test_nothing_changed_leaves_no_folder(tmp_path):
    server, home = tmp_path / "scratch", tmp_path / "home"
    home.mkdir()
    server.mkdir()
    data = archive_of(server, time.time(), 1000, tmp_path)
    summary = unpack(io.BytesIO(data), home, "from-tier1-x", 1000)
    assert summary["folder"] == "" and list(home.iterdir()) == []
    assert describe(summary).startswith("no file had changed")


def test_the_copy_pod_refuses_paths_out_of_its_folder(tmp_path):
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as tar:
        for name in ("../../etc/evil", "/abs/evil", "ok.txt"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
        link = tarfile.TarInfo("a-link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
        manifest = json.dumps({"left_out": []}).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    home = tmp_path / "home"
    home.mkdir()
    summary = unpack(io.BytesIO(stream.getvalue()), home, "f", 100)
    assert summary["copied"] == 1 and summary["left_out"] == 3
    assert sorted(p.name for p in (home / "f").iterdir()) == sorted(["ok.txt", REPORT])
    assert not (tmp_path / "etc").exists()


async def test_the_extension_serves_the_archive(jp_fetch, jp_serverapp, jp_root_dir):
    extension_of(jp_serverapp).started_at = time.time() - 5
    write(jp_root_dir / "made-here.txt", b"hello")
    response = await jp_fetch("aiinfn-hub", "api", "copy-back", params={"max_bytes": "100"})
    assert response.headers["Content-Type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(response.body)) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile(MANIFEST))
    assert "made-here.txt" in names and names[-1] == MANIFEST
    assert "made-here.txt" in manifest["copied"]
    missing = await jp_fetch("aiinfn-hub", "api", "copy-back", raise_error=False)
    assert missing.code == 400
    assert "max_bytes is needed" in json.loads(missing.body)["error"]


def test_the_copy_pod_manifest():
    server = {
        "metadata": {
            "name": "jupyter-mario-2erossi-40infn-2eit",
            "labels": {"hub.jupyter.org/username": "mario-2erossi", "component": "x"},
            "annotations": {"hub.jupyter.org/username": "mario.rossi@infn.it", "other": "no"},
        },
        "spec": {
            "securityContext": {"runAsUser": 1000, "fsGroup": 100},
            "containers": [{"image": "registry.infn.it/ai/lab:1", "securityContext": {}}],
        },
    }
    copy = CopyBackPlan(
        server_url="http://10.8.0.5:8888/user/mario.rossi@infn.it/",
        token="secret",
        home_volume={"name": "home", "persistentVolumeClaim": {"claimName": "claim-mario"}},
        home_mount="/home/jovyan",
        folder="from-leonardo-2026",
        max_bytes=1000,
        timeout=60,
    )
    pod = copy_pod(
        name=pod_name(server["metadata"]["name"]),
        server_pod=server,
        copy=copy,
        node_selector={"aiinfn.infn.it/site": "local"},
    )
    assert pod["metadata"]["name"] == "jupyter-mario-2erossi-40infn-2eit-copy-back"
    labels = pod["metadata"]["labels"]
    assert labels["component"] == "singleuser-copy-back"
    # the chart's singleuser NetworkPolicy lets it reach the server
    assert labels["hub.jupyter.org/network-access-singleuser"] == "true"
    assert labels["hub.jupyter.org/username"] == "mario-2erossi"
    assert pod["metadata"]["annotations"] == {"hub.jupyter.org/username": "mario.rossi@infn.it"}
    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {"runAsUser": 1000, "fsGroup": 100}
    assert spec["volumes"] == [copy.home_volume]
    (container,) = spec["containers"]
    assert container["image"] == "registry.infn.it/ai/lab:1"
    assert container["command"][:3] == ["python", "-m", "aiinfn_hub.homecopy"]
    assert (
        "http://10.8.0.5:8888/user/mario.rossi@infn.it/aiinfn-hub/api/copy-back?max_bytes=1000"
        in container["command"]
    )
    assert container["volumeMounts"] == [{"name": "home", "mountPath": "/home/jovyan"}]
    long = pod_name("jupyter-" + "a" * 60)
    assert len(long) <= 63 and long.endswith("-copy-back")


def test_the_home_and_the_summary():
    volumes = [
        {"name": "home", "persistentVolumeClaim": {"claimName": "claim-x"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "shared"}},
    ]
    mounts = [{"name": "data", "mountPath": "/data"}, {"name": "home", "mountPath": "/home/x"}]
    assert home_of(volumes, mounts, ["data", "home"], "/home/x/") == (volumes[0], "/home/x")
    assert home_of(volumes, mounts, ["data"], "/home/x") == (volumes[1], "/data")
    assert home_of(volumes, mounts, [], "/home/x") is None
    assert summary_of('noise\n{"copied": 1, "folder": "f"}\n') == {"copied": 1, "folder": "f"}
    assert summary_of("Traceback ...")["error"].startswith("the copy-back ended without")
