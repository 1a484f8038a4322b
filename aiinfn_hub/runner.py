"""Run a notebook inside a job, cell by cell, and send the executed notebook back in the log.

``python -m aiinfn_hub.runner NOTEBOOK --output-dir DIR [--parameters JSON] [--timeout S]``

Parameters are injected papermill-style: a cell tagged ``injected-parameters`` right after
the cell tagged ``parameters`` (or at the top), replacing an earlier injected cell. Progress
(``cell 3/7``) and each output go to the log as they happen. The executed notebook, with its
outputs and any error, is written to ``DIR`` and then printed at the end of the log between
two marker lines, gzip-compressed and base64-encoded: the pod log is the one channel that
comes back from every site, local or offloaded through interLink (a Slurm or HTCondor job
has no shared file system with the cluster; interLink returns only its stdout and stderr),
so the server extension recovers the notebook from the log, wherever the job ran.
The exit status is 0 when every cell ran, 1 when a cell failed (the job then fails, and says
so), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any

BEGIN = "----- aiinfn-hub executed notebook begin: {name} -----"
END = "----- aiinfn-hub executed notebook end -----"
BEGIN_PREFIX = BEGIN.split("{", 1)[0]
#: What people see in the log in place of the encoded notebook.
PLACEHOLDER = "[aiinfn-hub: the executed notebook was sent back]\n"
INJECTED_TAG = "injected-parameters"
#: The job environment variable naming a home-staged notebook (relative to the server's
#: root), so that its executed notebook comes back next to it.
SOURCE_ENV = "AIINFN_NOTEBOOK_PATH"


def notebook_command(
    path: str, output_dir: str, parameters: dict[str, Any] | None = None
) -> list[str]:
    """The command line that runs the notebook at ``path`` inside a job."""
    command = ["python", "-m", "aiinfn_hub.runner", path, "--output-dir", output_dir]
    if parameters:
        command += ["--parameters", json.dumps(dict(parameters), sort_keys=True)]
    return command


# ---------------------------------------------------------------------- the log block


def encode_block(name: str, notebook_json: str) -> str:
    """The log block that carries an executed notebook."""
    payload = base64.b64encode(gzip.compress(notebook_json.encode())).decode()
    lines = [payload[i : i + 76] for i in range(0, len(payload), 76)]
    return "\n".join([BEGIN.format(name=name), *lines, END]) + "\n"


def decode_block(log: str) -> tuple[str, str] | None:
    """``(name, notebook_json)`` from the last complete block in ``log``, else ``None``."""
    start = log.rfind(BEGIN_PREFIX)
    while start >= 0:
        end = log.find(END, start)
        if end >= 0:
            header, _, body = log[start:end].partition("\n")
            name = header[len(BEGIN_PREFIX) :].rsplit(" -----", 1)[0]
            try:
                data = gzip.decompress(base64.b64decode("".join(body.split()), validate=True))
                return name, data.decode()
            except (ValueError, OSError, EOFError):
                pass  # a damaged block: try an earlier one
        start = log.rfind(BEGIN_PREFIX, 0, start)
    return None


def readable(text: str, offset: int, eof: bool) -> tuple[str, int]:
    """A log slice for people, and the offset to ask for next.

    ``text`` is the log from byte ``offset``. An encoded notebook becomes one line. A block
    not yet complete (the job is still printing it), or a last line that may be the start
    of a marker, is held back: the returned offset stops before it, so the next request
    starts there and sees the whole block. At ``eof`` everything is consumed.
    """
    out: list[str] = []
    rest = text
    consumed = 0

    def take(part: str, shown: str | None = None) -> None:
        nonlocal consumed
        out.append(part if shown is None else shown)
        consumed += len(part.encode())

    while rest:
        start = rest.find(BEGIN_PREFIX)
        end = rest.find(END)
        if end >= 0 and (start < 0 or end < start):  # the tail of a block begun earlier
            stop = _block_end(rest, end + len(END), eof)
            if stop is None:
                break
            take(rest[:stop], "")
            rest = rest[stop:]
        elif start < 0:
            tail = rest[rest.rfind("\n") + 1 :]
            if tail and BEGIN_PREFIX.startswith(tail) and not eof:
                rest = rest[: len(rest) - len(tail)]
            take(rest)
            break
        else:
            take(rest[:start])
            rest = rest[start:]
            stop = None if end < 0 else _block_end(rest, end - start + len(END), eof)
            if stop is None:  # an incomplete block, or one whose line end is not read yet
                if eof:
                    take(rest, PLACEHOLDER)
                break
            take(rest[:stop], PLACEHOLDER)
            rest = rest[stop:]
    return "".join(out), offset + consumed


def _block_end(text: str, closed: int, eof: bool) -> int | None:
    """Where a block whose end marker stops at ``closed`` ends, with its line end; None while
    that line end may still be unread (the marker ends ``text`` and the log goes on)."""
    if closed == len(text) and not eof:
        return None
    return closed + 1 if text[closed : closed + 1] == "\n" else closed


# ---------------------------------------------------------------------- execution


def inject_parameters(nb: Any, parameters: dict[str, Any]) -> None:
    """Put a cell assigning ``parameters`` after the cell tagged ``parameters`` (papermill's
    convention), replacing an earlier injected cell; at the top when no cell is tagged."""
    import nbformat

    source = "# Parameters\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    tags = [c.get("metadata", {}).get("tags", []) for c in nb.cells]
    old = next((i for i, t in enumerate(tags) if INJECTED_TAG in t), None)
    if old is not None:
        nb.cells[old] = cell
        return
    index = next((i + 1 for i, t in enumerate(tags) if "parameters" in t), 0)
    nb.cells.insert(index, cell)


def log(message: str) -> None:
    print(f"[aiinfn {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _echo(out: Any) -> None:
    """Write one cell output to the log as it arrives."""
    kind = out.get("output_type")
    if kind == "stream":
        sys.stdout.write(out.get("text", ""))
    elif kind == "error":
        sys.stdout.write(f"{out.get('ename')}: {out.get('evalue')}\n")
    elif "text/plain" in out.get("data", {}):
        sys.stdout.write(str(out["data"]["text/plain"]) + "\n")
    sys.stdout.flush()


def _kernel_name(nb: Any) -> str:
    """The notebook's kernel if this image has it, else ``python3``."""
    from jupyter_client.kernelspec import KernelSpecManager

    wanted = (nb.metadata.get("kernelspec") or {}).get("name") or "python3"
    if wanted in KernelSpecManager().find_kernel_specs():
        return wanted
    log(f"kernel {wanted!r} is not in this image; using python3")
    return "python3"


def describe_kernel(client: Any) -> None:
    """Record the kernel that runs the notebook in its metadata, as JupyterLab does when it
    starts one (``kernelspec`` and the kernel's ``language_info``): the executed notebook then
    opens saved, where JupyterLab would otherwise fill them in and mark it modified."""
    spec = client.km.kernel_spec
    if spec is not None:
        client.nb.metadata["kernelspec"] = {
            "display_name": spec.display_name,
            "language": spec.language,
            "name": client.km.kernel_name,
        }
    reply = client.wait_for_reply(client.kc.kernel_info())
    info = (reply or {}).get("content", {}).get("language_info")
    if info:
        client.nb.metadata["language_info"] = info


def run(path: Path, output_dir: Path, parameters: dict[str, Any], timeout: int | None) -> int:
    """Execute the notebook; write it to ``output_dir`` and into the log; the exit status."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    class EchoingClient(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):
            out = super().output(outs, msg, display_id, cell_index)
            if out is not None:
                _echo(out)
            return out

    nb = nbformat.read(path, as_version=4)
    if parameters:
        inject_parameters(nb, parameters)
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    client = EchoingClient(
        nb,
        timeout=timeout,
        kernel_name=_kernel_name(nb),
        allow_errors=False,
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no kernel start-up chatter
    )
    status = 0
    log(f"running {path.name}: {len(code_cells)} code cells")
    try:
        with client.setup_kernel():
            describe_kernel(client)
            for number, (index, cell) in enumerate(code_cells, 1):
                log(f"cell {number}/{len(code_cells)}")
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as exc:
                    last = str(exc).strip().splitlines() or ["error"]
                    log(f"cell {number} failed: {last[-1]}")
                    status = 1
                    break
                except CellTimeoutError:
                    log(f"cell {number} ran over the {timeout} s limit per cell")
                    status = 1
                    break
    except DeadKernelError as exc:
        log(f"the kernel died: {exc}")
        status = 1
    text = nbformat.writes(nb)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / path.name).write_text(text)
    log("finished" if status == 0 else "stopped at the failing cell")
    sys.stdout.write(encode_block(path.name, text))
    sys.stdout.flush()
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aiinfn_hub.runner",
        description="Run a notebook cell by cell and send it back in the log.",
    )
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--output-dir", type=Path, default=Path("."))
    parser.add_argument("--parameters", default="{}", help="JSON object of parameters")
    parser.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    args = parser.parse_args(argv)
    try:
        parameters = json.loads(args.parameters)
    except ValueError:
        parser.error("--parameters must be a JSON object")
    if not isinstance(parameters, dict):
        parser.error("--parameters must be a JSON object")
    if not args.notebook.is_file():
        parser.error(f"no notebook at {args.notebook}")
    return run(args.notebook, args.output_dir, parameters, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
