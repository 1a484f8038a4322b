"""``aiinfn-hub examples DEST``: the example notebooks of binder/examples copied into a user's
folder, never replacing a file already there, so that it can run at every server start."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import nbformat
import pytest

from aiinfn_hub import examples
from aiinfn_hub.cli import main
from aiinfn_hub.examples import EXAMPLES, copy_examples, examples_dir

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "binder" / "examples"


def test_the_examples_are_binders_notebooks_each_listed_once():
    # one source: the notebooks Binder opens, each with what it shows
    assert sorted(EXAMPLES) == sorted(p.name for p in SOURCE.glob("*.ipynb"))
    for name in EXAMPLES:
        notebook = json.loads((SOURCE / name).read_text())
        assert notebook["metadata"]["aiinfn_hub"]["resources"], name
    assert examples_dir() in (SOURCE, examples.PACKAGED)


#: The files of whoever runs the demo or builds the Binder image, which a researcher reading
#: an example in JupyterLab has never seen.
TRAINERS_WORDS = ("postBuild", "binder/", "Makefile", "DEMO_ARGS", "requirements.txt")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_an_example_speaks_to_researchers_and_opens_as_a_valid_notebook(name):
    text = (SOURCE / name).read_text()
    notebook = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    prose = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert not [w for w in TRAINERS_WORDS if w in prose], f"{name}: {prose}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing cell id is only a warning today
        nbformat.validate(notebook)
    cells = json.loads(text)["cells"]
    assert all(c.get("id") for c in cells), "cell ids, as nbformat 4.5 requires"


def test_copies_every_example_into_a_new_folder(tmp_path, capsys):
    dest = tmp_path / "home" / "examples"
    assert main(["examples", str(dest)]) == 0
    assert sorted(p.name for p in dest.iterdir()) == sorted(EXAMPLES)
    for name in EXAMPLES:
        assert (dest / name).read_bytes() == (SOURCE / name).read_bytes()
    out = capsys.readouterr().out
    assert out == f"copied {', '.join(EXAMPLES)} into {dest}\n"


def test_running_it_again_keeps_what_the_user_has(tmp_path, capsys):
    dest = tmp_path / "examples"
    copy_examples(dest)
    edited = dest / "cpu-job.ipynb"
    edited.write_text("my own version")
    (dest / "gpu-job.ipynb").unlink()
    (dest / "notes.txt").write_text("mine")

    done = copy_examples(dest)
    assert done.copied == ["gpu-job.ipynb"]
    assert done.kept == ["cpu-job.ipynb", "falls-back.ipynb"]
    assert edited.read_text() == "my own version"
    assert (dest / "notes.txt").read_text() == "mine"
    assert (dest / "gpu-job.ipynb").read_bytes() == (SOURCE / "gpu-job.ipynb").read_bytes()

    assert main(["examples", str(dest)]) == 0
    out = capsys.readouterr().out
    assert out == f"kept {', '.join(EXAMPLES)} (already in {dest})\n"


def test_a_folder_it_cannot_write_is_an_error_in_words(tmp_path, capsys):
    dest = tmp_path / "examples"
    dest.write_text("a file, not a folder")
    assert main(["examples", str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"aiinfn-hub examples: cannot copy into {dest}: ")
    assert "Traceback" not in err


def test_an_installed_wheel_uses_its_own_copy(tmp_path, monkeypatch):
    packaged = tmp_path / "example_notebooks"
    shutil.copytree(SOURCE, packaged)
    monkeypatch.setattr(examples, "PACKAGED", packaged)
    assert examples_dir() == packaged
    # a copy missing a notebook is not used
    (packaged / "gpu-job.ipynb").unlink()
    assert examples_dir() == SOURCE


def test_no_examples_anywhere_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(examples, "PACKAGED", tmp_path / "none")
    monkeypatch.setattr(examples, "SOURCE", tmp_path / "neither")
    with pytest.raises(FileNotFoundError, match="reinstall aiinfn-hub"):
        examples_dir()
    assert main(["examples", str(tmp_path / "dest")]) == 1
    assert "the example notebooks are neither in" in capsys.readouterr().err


def test_help_lists_each_example(capsys):
    with pytest.raises(SystemExit):
        main(["examples", "--help"])
    out = capsys.readouterr().out
    for name, what in EXAMPLES.items():
        assert name in out and what.split(":")[0] in out


def test_the_wheel_puts_binders_examples_where_the_command_looks():
    package = Path(examples.__file__).resolve().parent
    assert examples.PACKAGED.parent == package
    forced = f'"binder/examples" = "{package.name}/{examples.PACKAGED.name}"'
    pyproject = (REPO / "pyproject.toml").read_text()
    section = pyproject.split("[tool.hatch.build.targets.wheel.force-include]\n", 1)[1]
    assert section.split("\n[", 1)[0].strip().splitlines() == [forced]
