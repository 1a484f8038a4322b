"""The aiinfn-hub command line: plan output, JSON shape, exit codes, and the demo."""

import json
import subprocess
import sys

import pytest

from aiinfn_hub.cli import main


def test_plan_json(capsys):
    assert main(["plan", "--gpus", "2", "--gpu-model", "A100", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["requires_gpu"] is True
    assert data["offloadable"] is True
    assert [s["name"] for s in data["sites"]] == ["leonardo", "local"]
    assert data["ruled_out"] == [{"name": "tier1", "reason": "has no GPUs"}]


def test_plan_with_site_down(capsys):
    assert main(["plan", "--volume", "configmap", "--site-down", "tier1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in data["sites"]] == ["local"]
    assert {"name": "tier1", "reason": "down: its node is not ready (--site-down)"} in data[
        "ruled_out"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpus", "-1"], "--gpus: expected a whole number"),
        (["--gpus", "1", "--gpu-model", "H100"], "--gpu-model: unknown GPU model 'H100'"),
        (["--memory", "12XB"], "--memory: expected a size such as 8Gi"),
        (["--walltime", "forever"], "--walltime: expected a duration"),
        (["--site-down", "mars"], "--site-down: unknown site 'mars'"),
        (["--walltime", "60d"], "no site can satisfy the walltime"),
        (["--volume", "nfs"], "--volume: unknown volume type 'nfs'"),
        (["--memory", "-1Gi"], "argument --memory: expected one argument"),
        (["--gpus"], "(see aiinfn-hub plan --help)"),
        (["--bogus"], "aiinfn-hub: error: unrecognized arguments: --bogus"),
    ],
)
def test_plan_bad_input_is_one_line_and_exit_2(capsys, args, message):
    assert main(["plan", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err


def test_console_entry_point_exit_code():
    result = subprocess.run(
        [sys.executable, "-m", "aiinfn_hub", "plan", "--memory", "12XB"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("aiinfn-hub plan: error: --memory")


def test_demo_prints_the_five_plans(capsys):
    from aiinfn_hub import demo

    assert demo.print_plans() == 0
    out = capsys.readouterr().out
    for number in range(1, 6):
        assert f"\n{number}. " in "\n" + out
    assert out.count("first choice for") == 4
    assert "tried first because CINECA Leonardo is ruled out" in out
