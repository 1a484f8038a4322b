"""``aiinfn-jobs`` and ``from aiinfn_hub import jobs`` against a real ``jupyter server`` in
standalone mode: a child process that enables the extension through the package's
jupyter_server_config.d file and starts its own sandbox, as ``jupyter lab`` on a laptop does.
The CLI finds the server the way it does in a JupyterLab terminal: Jupyter's runtime files."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from aiinfn_hub.runner import decode_block
from aiinfn_hub.sandbox.process import free_port

from .conftest import write_notebook

BIN = Path(sys.executable).parent
TOKEN = "cli-test-token"
LIMIT = 3000


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


class Server:
    """``jupyter server`` in standalone mode in a child process."""

    def __init__(self, base: Path) -> None:
        self.root = base / "root"
        self.root.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("JUPYTER", "AIINFN", "JPY_", "KUBECONFIG"))
        }
        self.env.update(
            JUPYTER_RUNTIME_DIR=str(base / "runtime"),
            JUPYTER_CONFIG_DIR=str(base / "config"),  # no user config: the package's only
        )
        self.log = (base / "server.log").open("wb")
        self.proc = subprocess.Popen(
            [
                str(BIN / "jupyter-server"), "--allow-root", "--no-browser",
                f"--port={self.port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={self.root}",
                f"--IdentityProvider.token={TOKEN}",
                "--ServerApp.allow_unauthenticated_access=False",
                "--AiinfnHubExtension.standalone_user=alice",
                f"--JobsManager.max_staged_bytes={LIMIT}",
            ],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.sandbox_pid: int | None = None
        self.state_dir: Path | None = None

    def api(self, path: str) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.url + "aiinfn-hub/api/" + path, headers={"Authorization": f"token {TOKEN}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "the server exited; see server.log"
            with contextlib.suppress(OSError):
                if self.api("sites")[0] == 200:
                    break
            time.sleep(0.2)
        else:
            raise TimeoutError("the server's jobs API did not come up")
        [self.sandbox_pid] = [
            p for p in _children(self.proc.pid) if "aiinfn_hub.sandbox" in _cmdline(p)
        ]
        args = _cmdline(self.sandbox_pid)
        self.state_dir = Path(args[args.index("--state-dir") + 1])

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    found = Server(tmp_path_factory.mktemp("cli"))
    try:
        found.wait_ready()
        yield found
    finally:
        found.stop()
        if found.sandbox_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(found.sandbox_pid, signal.SIGKILL)


def cli(server: Server, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "aiinfn-jobs"), *args],
        cwd=server.root, env=env or server.env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"rc {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    assert re.match(r"aiinfn-jobs \w+: error: ", line), line
    for word in words:
        assert word in line, line
    return line


def job_id(output: str) -> str:
    return output.split()[0]


def test_sites_and_plans(server):
    out = ok(cli(server, "sites"))
    assert re.search(r"^tier1\s+CNAF Tier-1\s+ok", out, re.M)
    assert re.search(r"^leonardo\s+CINECA Leonardo\s+ok\s+32/32", out, re.M)
    write_notebook(
        server.root / "calc.ipynb", "n = 6", "print('answer', n * 7)", tags={0: ["parameters"]}
    )
    out = ok(cli(server, "plan", "calc.ipynb"))
    assert "1. CNAF Tier-1" in out and "2. Local resources" in out
    out = ok(cli(server, "plan", "--gpus", "1", "--", "python", "train.py"))
    assert "requires a GPU" in out and "1. CINECA Leonardo" in out


def test_a_script_is_followed_to_the_end_of_its_log(server):
    (server.root / "count.sh").write_text(
        'for i in 1 2 3 4; do echo "count $i of $1"; sleep 0.3; done\n'
    )
    out = ok(cli(server, "submit", "count.sh", "--follow", "--", "four"))
    lines = out.splitlines()
    counted = [line for line in lines if line.startswith("count ")]
    assert counted == [f"count {i} of four" for i in range(1, 5)]
    assert lines[-1].endswith("count.sh  succeeded at CNAF Tier-1")
    assert lines.index(counted[-1]) < len(lines) - 1, "the state line comes after the log"


def test_a_notebook_comes_back_executed_next_to_its_source(server):
    write_notebook(
        server.root / "calc.ipynb", "n = 6", "print('answer', n * 7)", tags={0: ["parameters"]}
    )
    out = ok(cli(server, "submit", "calc.ipynb", "--param", "n=1000003", "--follow"))
    ident = job_id(out)
    assert "answer 7000021" in out
    assert f"-- executed notebook: calc.{ident}.ipynb" in out
    executed = nbformat.read(str(server.root / f"calc.{ident}.ipynb"), as_version=4)
    assert executed.cells[2].outputs[0]["text"] == "answer 7000021\n"
    out = ok(cli(server, "show", ident))
    assert re.search(r"^#\s+site\s+started\s+ended\s+outcome\s+reason", out, re.M)
    assert re.search(r"^1\s+CNAF Tier-1\s+\S+\s+\S+\s+succeeded", out, re.M)
    assert f"executed notebook: calc.{ident}.ipynb" in out


def test_an_array_job_shows_a_progress_bar(server):
    array = ["--completions", "3", "--parallelism", "3", "--local-only", "--name", "array"]
    task = ["sh", "-c", "echo task $JOB_COMPLETION_INDEX"]
    out = ok(cli(server, "submit", *array, "--follow", "--", *task))
    bars = [line for line in out.splitlines() if line.startswith("-- [")]
    assert bars[-1] == f"-- [{'#' * 30}] 3/3 done (0 failed, 0 running)"
    ident = job_id(out)
    assert ok(cli(server, "logs", ident, "--index", "2")) == "task 2\n"
    assert "progress: [" in ok(cli(server, "show", ident))


def test_list_logs_cancel_and_rerun(server):
    ident = job_id(
        ok(cli(server, "submit", "--local-only", "--name", "sleeper", "--", "sleep", "120"))
    )
    listed = ok(cli(server, "list"))
    assert re.search(rf"^{ident}\s+sleeper\s+(queued|admitted|running)", listed, re.M)
    assert "count.sh" in listed and "calc.ipynb" in listed
    assert json.loads(ok(cli(server, "list", "--json", "--state", "succeeded")))
    assert "cancelled" in ok(cli(server, "cancel", ident))
    one_line_error(cli(server, "cancel", ident), "already ended")
    again = ok(cli(server, "rerun", ident, "--site", "local"))
    assert "sleeper" in again and "at Local resources" in again
    ok(cli(server, "cancel", job_id(again)))
    finished = json.loads(ok(cli(server, "list", "--json", "--state", "succeeded")))
    counting = next(j for j in finished if j["name"] == "count.sh")
    assert ok(cli(server, "logs", counting["id"])).splitlines()[0] == "count 1 of four"
    assert "count 4 of four" in ok(cli(server, "logs", counting["id"], "--follow"))


def test_errors_are_one_readable_line_and_a_nonzero_exit(server, tmp_path):
    (server.root / "notes.txt").write_text("hi\n")
    (server.root / "big.py").write_text("# padding\n" * 400 + "print('big')\n")
    one_line_error(cli(server, "show", "0123456789"), "no job")
    one_line_error(cli(server, "show", "a b/../sites"), "no job 'a b/../sites'")
    one_line_error(cli(server, "submit", "missing.py"), "no file")
    one_line_error(cli(server, "submit", "notes.txt"), ".ipynb")
    one_line_error(cli(server, "submit", "../outside.py"), "outside")
    one_line_error(cli(server, "submit", "--gpus", "1", "--site", "tier1", "--", "true"), "tier1")
    one_line_error(cli(server, "submit", "--memory", "lots", "--", "true"), "memory")
    one_line_error(cli(server, "submit", "big.py"), f"{LIMIT:,}-byte limit", "--from-home")
    one_line_error(cli(server, "submit"), "FILE")
    one_line_error(cli(server, "submit", "calc.ipynb", "--param", "oops"), "NAME=VALUE")
    one_line_error(cli(server, "submit", "calc.ipynb", "--gpus", "x"), "--gpus", "--help")
    one_line_error(cli(server, "show"), "id", "aiinfn-jobs show --help")
    one_line_error(cli(server, "--url", "not-a-url", "list"), "not a URL")
    wrong = {**server.env, "AIINFN_JOBS_API": server.url + "aiinfn-hub/api/"}
    wrong["AIINFN_JOBS_TOKEN"] = "not-the-token"
    one_line_error(cli(server, "list", env=wrong), "did not accept your login", "--token")
    one_line_error(cli(server, "cancel", "0123456789", env=wrong), "did not accept your login")
    elsewhere = {**server.env, "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    one_line_error(cli(server, "list", env=elsewhere), "no Jupyter server")
    stopped = {**server.env, "AIINFN_JOBS_API": f"http://127.0.0.1:{free_port()}/aiinfn-hub/api/"}
    one_line_error(cli(server, "list", env=stopped), "cannot reach")


def test_from_home_runs_the_file_in_place_on_local_resources(server):
    """Over the size limit, yet it runs: read in place from the home volume (the server's
    root), next to its data, writing its results there."""
    (server.root / "data.txt").write_text("data beside the script\n")
    (server.root / "big.py").write_text(
        "# padding\n" * 400
        + "import pathlib\n"
        + "here = pathlib.Path(__file__).parent\n"
        + "print((here / 'data.txt').read_text().strip())\n"
        + "(here / 'result.txt').write_text('written by the job')\n"
    )
    out = ok(cli(server, "submit", "big.py", "--from-home", "--follow"))
    assert "data beside the script" in out and "succeeded at Local resources" in out
    assert (server.root / "result.txt").read_text() == "written by the job"
    out = ok(cli(server, "submit", "calc.ipynb", "--from-home", "--param", "n=2", "--follow"))
    assert "answer 14" in out and "succeeded at Local resources" in out
    assert f"-- executed notebook: calc.{job_id(out)}.ipynb" in out


def test_the_python_api_from_a_notebook_cell(server):
    """``from aiinfn_hub import jobs`` in a notebook kernel started in the server's folder."""
    write_notebook(
        server.root / "api.ipynb",
        "from aiinfn_hub import jobs",
        "job = jobs.submit(command=['python', '-c', 'print(6 * 7)'], local_only=True)\n"
        "done = jobs.wait(job['id'], timeout=120)\n"
        "print(done['state'], done['site'], jobs.logs(done['id']).strip())",
        "mine = [j['id'] for j in jobs.list()]\n"
        "print(job['id'] in mine, jobs.get(job['id'])['state'])",
        "sleeper = jobs.submit(command=['sleep', '120'], name='api sleeper', local_only=True)\n"
        "print(jobs.cancel(sleeper['id'])['state'])",
        "try:\n    jobs.get('0123456789')\nexcept jobs.JobsClientError as exc:\n"
        "    print(exc.status, exc.message)",
    )
    done = subprocess.run(
        [sys.executable, "-m", "aiinfn_hub.runner", "api.ipynb", "--output-dir", "api-out"],
        cwd=server.root, env=server.env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    executed = nbformat.reads(decode_block(done.stdout)[1], as_version=4)
    printed = [c.outputs[0]["text"].strip() if c.outputs else "" for c in executed.cells]
    assert printed[1] == "succeeded local 42"
    assert printed[2] == "True succeeded"
    assert printed[3] == "cancelled"
    assert printed[4].startswith("404 no job '0123456789'")


def test_stopping_the_server_leaves_nothing_running(server):
    assert server.sandbox_pid is not None and server.state_dir.is_dir()
    pods = _children(server.sandbox_pid)
    assert server.stop() == 0
    for pid in [server.sandbox_pid, *pods]:
        assert not Path(f"/proc/{pid}").exists(), _cmdline(pid)
    assert not server.state_dir.exists()
