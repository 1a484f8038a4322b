"""How the CLI and the Python API find their server: explicit URL, the Jupyter server they
run in (from Jupyter's runtime files), or the environment JupyterLab and JupyterHub set."""

from __future__ import annotations

import http.server
import json
import os
import threading

import pytest

from aiinfn_hub.jobs.client import Connection, JobsClientError, build_request, job_path


def server_file(runtime, pid: int, port: int, root, token: str = "") -> None:
    info = {
        "pid": pid,
        "url": f"http://0.0.0.0:{port}/",
        "token": token,
        "root_dir": str(root),
        "base_url": "/",
    }
    (runtime / f"jpserver-{pid}.json").write_text(json.dumps(info))


@pytest.fixture
def runtime(tmp_path):
    folder = tmp_path / "runtime"
    folder.mkdir()
    return folder


def test_an_explicit_url_wins(runtime):
    env = {"AIINFN_JOBS_API": "http://hub:10101/services/aiinfn-jobs/", "AIINFN_JOBS_TOKEN": "t"}
    conn = Connection.discover({**env, "JUPYTER_RUNTIME_DIR": str(runtime)})
    assert (conn.url, conn.token, conn.kind) == (env["AIINFN_JOBS_API"], "t", "service")
    conn = Connection.discover(
        {"AIINFN_JOBS_API": "http://x/user/a/aiinfn-hub/api", "JUPYTERHUB_API_TOKEN": "h"}
    )
    assert (conn.url, conn.token, conn.kind) == (
        "http://x/user/a/aiinfn-hub/api/",
        "h",
        "extension",
    )


def test_the_server_of_this_kernel_or_terminal_from_the_runtime_files(runtime, tmp_path):
    me, parent = os.getpid(), os.getppid()
    server_file(runtime, me, 8001, tmp_path / "a", token="tok-a")
    server_file(runtime, parent, 8002, tmp_path / "b")
    server_file(runtime, 999999999, 8003, tmp_path)  # its process is gone: ignored
    base = {"JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTERHUB_API_TOKEN": "hub-token"}
    conn = Connection.discover({**base, "JPY_PARENT_PID": str(parent)})  # a kernel
    assert conn.url == "http://127.0.0.1:8002/aiinfn-hub/api/"
    assert (conn.token, conn.root) == ("hub-token", str(tmp_path / "b"))  # a hub server
    conn = Connection.discover({**base, "JUPYTER_SERVER_URL": "http://0.0.0.0:8001/"})  # terminal
    assert (conn.url, conn.token) == ("http://127.0.0.1:8001/aiinfn-hub/api/", "tok-a")


def test_the_environment_when_there_are_no_runtime_files(runtime):
    base = {"JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTERHUB_API_TOKEN": "hub-token"}
    conn = Connection.discover({**base, "JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:8888/user/al/"})
    assert (conn.url, conn.token) == ("http://127.0.0.1:8888/user/al/aiinfn-hub/api/", "hub-token")
    with pytest.raises(JobsClientError, match="no Jupyter server was found"):
        Connection.discover({"JUPYTER_RUNTIME_DIR": str(runtime)})


def test_files_go_by_path_to_the_extension_and_by_content_to_the_service(tmp_path):
    (tmp_path / "train.py").write_text("print(1)\n")
    extension = Connection("http://s/aiinfn-hub/api/", root=str(tmp_path))
    body = build_request(tmp_path / "train.py", args=["-v"], gpus=1, walltime="2h", conn=extension)
    assert body == {
        "path": "train.py", "args": ["-v"], "resources": {"gpus": 1}, "walltime": "2h",
    }  # fmt: skip
    service = Connection("http://hub/services/aiinfn-jobs/", kind="service")
    body = build_request(tmp_path / "train.py", local_only=True, conn=service)
    assert body == {
        "script": {"path": "train.py", "content": "print(1)\n"}, "local_only": True,
    }  # fmt: skip
    with pytest.raises(JobsClientError, match="outside"):
        build_request(tmp_path.parent / "elsewhere.py", conn=extension)
    with pytest.raises(JobsClientError, match="not both"):
        build_request(tmp_path / "train.py", command=["true"], conn=extension)
    with pytest.raises(JobsClientError, match="list of words"):
        build_request(command="python x.py", conn=extension)


def test_a_job_id_is_one_path_segment_whatever_it_holds():
    assert job_path("0123456789") == "jobs/0123456789"
    assert job_path("a b/../sites", "/log") == "jobs/a%20b%2F..%2Fsites/log"


@pytest.fixture
def html_server():
    """A server that answers every GET with an HTML page (a proxy's, a login page)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>not the API</html>")

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("url", ["not-a-url", "http://a b/aiinfn-hub/api/"])
def test_a_url_that_is_not_one_is_an_error_in_words(url):
    with pytest.raises(JobsClientError, match="is not a URL; give one like http://") as caught:
        Connection(url).request("GET", "jobs")
    assert caught.value.status == 0


def test_an_answer_that_is_not_json_is_an_error_in_words(html_server):
    with pytest.raises(JobsClientError, match="something other than JSON") as caught:
        Connection(html_server).request("GET", job_path("abc"))
    assert caught.value.status == 200
