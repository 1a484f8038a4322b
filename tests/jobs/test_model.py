"""Job request validation: each bad input gets a message that names the field and the fix."""

import pytest

from aiinfn_hub.errors import BadRequest, TooLarge
from aiinfn_hub.jobs.model import parse_spec
from aiinfn_hub.placement import Placer

PLACER = Placer()


def parse(data, limit=1000):
    return parse_spec(data, PLACER, limit)


def test_minimal_command():
    job = parse({"command": ["echo", "hi"]})
    assert job.name == "echo"
    assert job.request.gpus == 0
    assert job.completions == job.parallelism == 1


def test_full_request_round_trips():
    data = {
        "name": "train",
        "command": ["python", "train.py"],
        "resources": {"cpu": "2", "memory": "8Gi", "gpus": 1, "gpu_model": "a100"},
        "walltime": "2h",
        "completions": 4,
        "parallelism": 2,
        "env": {"SEED": "1"},
        "volumes": ["configmap:settings", "secret:tokens", "emptydir", "emptydir:cache"],
        "client_request_id": "req-1",
    }
    job = parse(data)
    again = parse({**job.to_dict(), "command": list(job.command)})
    assert again == job
    assert job.request.gpu_model == "A100"


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        ([], None, "JSON object"),
        ({}, "command", "exactly one of"),
        ({"command": "echo hi"}, "command", "list of words"),
        ({"command": ["x"], "script": {"path": "a.py", "content": ""}}, "command", "exactly one"),
        ({"command": ["x"], "resources": {"gpus": -1}}, "resources.gpus", "0 or more"),
        ({"command": ["x"], "resources": {"memory": "12XB"}}, "resources.memory", "8Gi"),
        (
            {"command": ["x"], "resources": {"gpus": 1, "gpu_model": "H100"}},
            "resources.gpu_model",
            "known models",
        ),
        ({"command": ["x"], "resources": {"disk": "1Gi"}}, "resources.disk", "unknown resource"),
        ({"command": ["x"], "walltime": "forever"}, "walltime", "duration"),
        ({"command": ["x"], "completions": 0}, "completions", "1 to 1000"),
        ({"command": ["x"], "completions": 2, "parallelism": 3}, "parallelism", "cannot exceed"),
        ({"command": ["x"], "env": {"1BAD": "x"}}, "env", "variable names"),
        ({"command": ["x"], "site": "mars"}, "site", "unknown site"),
        ({"command": ["x"], "name": "-bad"}, "name", "letters"),
        ({"command": ["x"], "colour": "red"}, "colour", "unknown field"),
        ({"script": {"path": "/etc/passwd", "content": ""}}, "script.path", "relative"),
        ({"script": {"path": "../x.py", "content": ""}}, "script.path", "relative"),
        (
            {"script": {"path": "data.csv", "content": ""}},
            "script.kind",
            "notebook, python or shell",
        ),
        ({"script": {"path": "a.py"}}, "script.content", "file's text"),
        ({"script": {"path": "dir/", "content": ""}}, "script.path", "name a file"),
        ({"script": {"path": "a/.", "kind": "python", "content": ""}}, "script.path", "a file"),
        ({"script": {"path": "..x.py", "content": ""}}, "script.path", "name a file"),
        ({"script": {"path": "a\x00b.py", "content": ""}}, "script.path", "name a file"),
        ({"command": ["x"], "volumes": ["configmap"]}, "volumes", "'configmap:<name>'"),
        ({"command": ["x"], "volumes": ["secret:"]}, "volumes", "name of the shared Secret"),
        ({"command": ["x"], "volumes": ["emptydir:../etc"]}, "volumes", "not a volume name"),
        ({"command": ["x"], "volumes": ["emptydir:a/b"]}, "volumes", "not a volume name"),
        ({"command": ["x"], "volumes": ["configmap:.."]}, "volumes", "not a volume name"),
    ],
)
def test_bad_requests(data, field, text):
    with pytest.raises(BadRequest) as info:
        parse(data)
    assert info.value.field == field
    assert text in info.value.message
    assert info.value.status == 400


def test_file_too_large_is_413_with_the_limit_and_what_to_do():
    with pytest.raises(TooLarge) as info:
        parse({"script": {"path": "big.py", "content": "x" * 2000}}, limit=1000)
    assert info.value.status == 413
    assert "1,000-byte limit" in info.value.message
    assert "local_only" in info.value.message


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ({"command": ["@@@"]}, "job"),
        ({"command": ["./-run"]}, "run"),
        ({"command": ["x" * 100]}, "x" * 63),
        ({"script": {"path": "notes/Run #1 (été).py", "content": ""}}, "Run -1 -t-.py"),
    ],
)
def test_a_request_without_a_name_gets_a_valid_one(data, name):
    assert parse(data).name == name
