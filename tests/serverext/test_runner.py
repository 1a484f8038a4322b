"""The notebook runner: parameters papermill-style, the notebook's trip back in the log, and
what people see of that log."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aiinfn_hub.runner import (
    BEGIN_PREFIX,
    END,
    PLACEHOLDER,
    decode_block,
    encode_block,
    inject_parameters,
    notebook_command,
    readable,
)

from .conftest import write_notebook

NOTEBOOK = json.dumps({"cells": [{"source": "x = 1" * 300}], "nbformat": 4})
LOG = "starting\nstep 1\n" + encode_block("nb.ipynb", NOTEBOOK) + "after\n"


def test_the_executed_notebook_survives_the_trip_in_the_log():
    assert decode_block(LOG) == ("nb.ipynb", NOTEBOOK)
    assert decode_block("no block here\n") is None
    assert decode_block(LOG[: LOG.index("----- aiinfn-hub executed notebook end")]) is None
    damaged = LOG.replace(LOG.splitlines()[3], "!!!not base64!!!")
    assert decode_block(damaged) is None
    twice = encode_block("old.ipynb", "{}") + LOG
    assert decode_block(twice) == ("nb.ipynb", NOTEBOOK)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(LOG.encode()) - 1), max_size=6))
@example(cuts=[LOG.index(END) + len(END)])  # a read that ends between a block and its newline
def test_a_log_read_in_any_pieces_shows_people_one_line_for_the_notebook(cuts):
    """However the log is cut into reads, the reader never sees the encoded notebook."""
    raw = LOG.encode()
    ends = [*sorted(set(cuts)), len(raw)]
    shown, offset = "", 0
    for number, end in enumerate(ends):
        eof = number == len(ends) - 1
        text, offset = readable(raw[offset:end].decode(), offset, eof)
        shown += text
    assert offset == len(raw)
    assert shown == "starting\nstep 1\n" + PLACEHOLDER + "after\n"


def test_a_log_still_being_written_holds_back_an_unfinished_block():
    partial = LOG[: LOG.index("after") - 60]
    text, offset = readable(partial, 0, eof=False)
    assert text == "starting\nstep 1\n" and offset == len(b"starting\nstep 1\n")
    text, offset = readable(partial, 0, eof=True)  # the job ended: the block never finished
    assert text == "starting\nstep 1\n" + PLACEHOLDER and offset == len(partial.encode())
    text, offset = readable("hello\n" + BEGIN_PREFIX[:9], 0, eof=False)
    assert (text, offset) == ("hello\n", 6)
    # a read that starts inside a block and stops right after its end marker: the marker's
    # line end is not read yet, so the tail is held back (else the next read shows a blank line)
    tail = "abc\n" + END
    assert readable(tail, 100, eof=False) == ("", 100)
    assert readable(tail + "\nafter\n", 100, eof=False) == ("after\n", 100 + len(tail) + 7)
    assert readable(tail, 100, eof=True) == ("", 100 + len(tail))


def test_parameters_go_after_the_parameters_cell_and_replace_earlier_ones():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), nbformat.v4.new_code_cell("n = 1")]
    nb.cells[1].metadata["tags"] = ["parameters"]
    nb.cells.append(nbformat.v4.new_code_cell("print(n)"))
    inject_parameters(nb, {"n": 5, "name": "run 'a'"})
    assert nb.cells[2].source == "# Parameters\nn = 5\nname = \"run 'a'\""
    assert nb.cells[2].metadata["tags"] == ["injected-parameters"]
    inject_parameters(nb, {"n": 6})
    assert len(nb.cells) == 4 and nb.cells[2].source == "# Parameters\nn = 6"
    bare = nbformat.v4.new_notebook()
    bare.cells = [nbformat.v4.new_code_cell("print(n)")]
    inject_parameters(bare, {"n": 2})
    assert bare.cells[0].source == "# Parameters\nn = 2"


def test_the_command_carries_parameters_as_json():
    assert notebook_command("/job/a.ipynb", "/out") == [
        "python", "-m", "aiinfn_hub.runner", "/job/a.ipynb", "--output-dir", "/out",
    ]  # fmt: skip
    command = notebook_command("/job/a.ipynb", "/out", {"n": 1})
    assert json.loads(command[command.index("--parameters") + 1]) == {"n": 1}


def run_runner(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aiinfn_hub.runner", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_runner_stops_at_a_failing_cell_and_still_sends_the_notebook_back(tmp_path):
    write_notebook(
        tmp_path / "nb.ipynb",
        "print('first')",
        "1 / 0",
        "print('third')",
    )
    done = run_runner("nb.ipynb", "--output-dir", "out", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.endswith("cell 1/3") for line in lines)
    assert "first" in lines and "ZeroDivisionError: division by zero" in lines
    assert "third" not in done.stdout
    name, text = decode_block(done.stdout)
    executed = nbformat.reads(text, as_version=4)
    assert name == "nb.ipynb"
    assert executed.cells[1].outputs[0]["ename"] == "ZeroDivisionError"
    assert executed.cells[2].outputs == []
    assert nbformat.read(str(tmp_path / "out" / "nb.ipynb"), as_version=4) == executed


def test_the_executed_notebook_names_its_kernel_as_jupyterlab_would(tmp_path):
    """JupyterLab fills in the kernel's ``kernelspec`` and ``language_info`` when it opens a
    notebook and marks it modified if they change: the runner records them, so the executed
    notebook opens saved (the galata test opens one)."""
    write_notebook(tmp_path / "nb.ipynb", "print('x')")
    done = run_runner("nb.ipynb", "--output-dir", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    metadata = nbformat.reads(decode_block(done.stdout)[1], as_version=4).metadata
    info = metadata.language_info
    assert info.name == "python" and info.version == ".".join(map(str, sys.version_info[:3]))
    assert info.mimetype == "text/x-python" and info.codemirror_mode
    assert metadata.kernelspec.name == "python3"
    assert metadata.kernelspec.display_name == "Python 3 (ipykernel)"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["missing.ipynb"], "no notebook"),
        (["nb.ipynb", "--parameters", "[1]"], "JSON object"),
        (["nb.ipynb", "--parameters", "{oops"], "JSON object"),
    ],
)
def test_the_runner_refuses_bad_arguments(tmp_path, args, words):
    write_notebook(tmp_path / "nb.ipynb", "1")
    done = run_runner(*args, cwd=tmp_path)
    assert done.returncode == 2 and words in done.stderr
