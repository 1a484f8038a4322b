"""``aiinfn-hub demo`` as a newcomer runs it: it prints the URL and the logins, the hub answers
there, a user gets JupyterLab through the proxy, and Ctrl-C stops everything it started, the
user's server included."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from aiinfn_hub import demo
from aiinfn_hub.cli import main
from aiinfn_hub.hubconfig import DEMO_PASSWORD, DEMO_USERS
from aiinfn_hub.hubprocess import descendants
from aiinfn_hub.sandbox.process import PACKAGE_ROOT, free_port


def test_help_documents_port_sites_and_faults(capsys):
    try:
        main(["demo", "--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    out = capsys.readouterr().out
    for option in ("--port", "--sites", "--fault", "--interactive-offload", "--plans"):
        assert option in out
    for fault in ("site-down:SITE", "maintenance:SITE", "api-latency:MS"):
        assert fault in out


def test_a_bad_fault_is_one_line_and_exit_2(capsys):
    assert main(["demo", "--fault", "meteor:leonardo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aiinfn-hub demo: error: --fault meteor:leonardo: unknown fault")
    assert main(["demo", "--fault", "site-down"]) == 2
    assert "name the site, e.g. site-down:leonardo" in capsys.readouterr().err


def test_a_port_in_use_is_one_line_and_exit_2(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["demo", "--port", str(port), "--state-dir", "/nonexistent/never"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aiinfn-hub demo: error: --port {port}: cannot listen on 127.0.0.1:")
    assert "choose another port with --port" in err


@pytest.mark.parametrize("ip", ["0.0.0.0", "::", "192.168.1.20"])
def test_an_address_others_reach_needs_public(capsys, ip):
    """The demo's passwords are fixed and printed: it does not listen where other machines
    reach it unless asked to, and refuses before it starts anything."""
    assert main(["demo", "--ip", ip, "--state-dir", "/nonexistent/never"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aiinfn-hub demo: error: --ip {ip} would let other machines reach")
    assert "add --public" in err and err.count("\n") == 1


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses_need_nothing_more(ip):
    assert demo.exposure_warning(ip, public=False) is None


def test_public_says_so_loudly_before_anything_starts(capsys):
    with socket.socket() as busy:  # the port is taken: the demo stops right after the warning
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["demo", "--ip", "0.0.0.0", "--public", "--port", str(port),
                     "--state-dir", "/nonexistent/never"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    warning, error = err.rsplit("\n", 2)[0], err.rsplit("\n", 2)[1]
    assert "WARNING: --public: the demo listens on 0.0.0.0" in warning
    assert "FIXED passwords" in warning and "alice, bob, carol, admin" in warning
    assert error.startswith(f"aiinfn-hub demo: error: --port {port}: cannot listen on 0.0.0.0:")


def test_public_is_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "--public" in capsys.readouterr().out


class Output:
    """The demo's output, read by a thread as it comes."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.text:
            ended = not self.thread.is_alive()  # read before the text, which may then be whole
            if text in self.text:
                break
            if time.monotonic() > deadline or ended:
                raise AssertionError(f"no {text!r} in the demo's output:\n{self.text}")
            time.sleep(0.1)
        return self.text


def _ready(browser: httpx.Client, user: str, timeout: float = 180) -> bool:
    """Follow the spawn's progress (as the pending page does) until it ends; True if ready."""
    path = f"/hub/api/users/{user}/server/progress"
    with browser.stream("GET", path, timeout=timeout) as events:
        for line in events.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if event.get("ready") or event.get("failed"):
                    return bool(event.get("ready"))
    return False


def test_the_demo_serves_the_hub_and_ctrl_c_leaves_nothing_behind(tmp_path: Path):
    port = free_port()
    state = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiinfn_hub", "demo", "--port", str(port),
         "--state-dir", str(state), "--fault", "site-down:tier1"],
        cwd=PACKAGE_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    output = Output(proc)
    started: list[tuple[int, str]] = []
    try:
        banner = output.wait_for("Press Ctrl-C to stop everything.", 120)
        url = f"http://127.0.0.1:{port}"
        assert f"Open {url}/ in your browser." in banner
        assert f"Log in as {', '.join(DEMO_USERS[:-1])} or {DEMO_USERS[-1]}" in banner
        assert f"password: {DEMO_PASSWORD}" in banner
        assert "Faults: site-down:tier1." in banner
        assert "Example notebooks are in ~/examples" in banner
        started = descendants(proc.pid)
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid, _ in started]
        assert any(b"aiinfn_hub.sandbox" in c for c in commands)
        assert any(b"jupyterhub" in c for c in commands)
        assert any(b"configurable-http-proxy" in c for c in commands)
        assert any(b"aiinfn_hub.jobs" in c for c in commands)

        with httpx.Client(base_url=url, follow_redirects=True, timeout=30) as browser:
            page = browser.get("/hub/login")
            xsrf = browser.cookies.get("_xsrf")
            form = browser.post(
                "/hub/login",
                data={"username": "alice", "password": DEMO_PASSWORD, "_xsrf": xsrf},
            )
            assert page.status_code == 200 and form.status_code == 200
            assert 'id="profile-item-automatic"' in form.text  # the spawn form
            # a user's server is running when Ctrl-C comes: it must go too
            spawn = {"profile": "cpu-small", "_xsrf": browser.cookies.get("_xsrf")}
            assert browser.post("/hub/spawn", data=spawn).status_code == 200
            assert _ready(browser, "alice"), "alice's server did not start"
            lab = browser.get("/user/alice/lab")
            assert lab.status_code == 200 and "<title>JupyterLab</title>" in lab.text
        started = list({*started, *descendants(proc.pid)})
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid, _ in started]
        assert any(b"jupyterhub-singleuser" in c for c in commands)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the demo's terminal
        try:
            code = proc.wait(120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    output.thread.join(10)
    assert code == 0, output.text
    assert "stopped; nothing is left running" in output.text
    alive = [pid for pid, _ in started if Path(f"/proc/{pid}").exists()]
    zombies = []
    for pid in alive:
        try:
            zombies.append(Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z")
        except OSError:
            zombies.append(True)
    assert all(zombies), f"left running: {alive}"


def _left_running(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie waiting for its parent has ended)."""
    alive = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z":
                alive.append(pid)
        except OSError:
            pass
    return alive


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_make_demo_stops_cleanly_on_a_signal_to_makes_own_process(tmp_path: Path, sig):
    """A trainer's script or an IDE's stop button signals make's process alone; make passes
    neither signal on (on SIGINT it waits for the demo, on SIGTERM it exits)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    make = subprocess.Popen(
        ["make", "--no-print-directory", "-o", "install", "-o", "chp", "demo",
         f"DEMO_ARGS=--port {port} --state-dir '{tmp_path / 'demo state'}'"],
        cwd=PACKAGE_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, env=env,
    )  # fmt: skip
    output = Output(make)
    try:
        output.wait_for("Press Ctrl-C to stop everything.", 120)
        started = [pid for pid, _ in descendants(make.pid)]
        assert started, "the demo runs under make"
        os.kill(make.pid, sig)  # make's own process, not its group
        make.wait(120)
        output.wait_for("stopped; nothing is left running", 120)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while _left_running(started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _left_running(started), f"left running: {_left_running(started)}"
    assert "signals sent to the parent process alone will not stop" not in output.text
