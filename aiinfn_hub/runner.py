"""Run a notebook inside a job, cell by cell, and ship the executed notebook back in the log.

``python -m aiinfn_hub.runner NOTEBOOK --output-dir DIR [--parameters JSON]``

Parameters are injected papermill-style: a new cell right after the cell tagged
``parameters`` (or at the top). Progress goes to the log as it happens. The executed
notebook, with outputs and any error, is written to ``DIR`` and also printed at the end of
the log between two marker lines, gzip-compressed and base64-encoded: the pod log is the one
channel that comes back from every site, local or offloaded through interLink (which has no
shared filesystem), so the server extension recovers the notebook from there.
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


def encode_block(name: str, notebook_json: str) -> str:
    """The log block that carries an executed notebook."""
    payload = base64.b64encode(gzip.compress(notebook_json.encode())).decode()
    lines = [payload[i : i + 76] for i in range(0, len(payload), 76)]
    return "\n".join([BEGIN.format(name=name), *lines, END]) + "\n"


def decode_block(log: str) -> tuple[str, str] | None:
    """``(name, notebook_json)`` from a log that holds a complete block, else ``None``."""
    start = log.rfind(BEGIN_PREFIX)
    if start < 0:
        return None
    end = log.find(END, start)
    if end < 0:
        return None
    header, _, body = log[start:end].partition("\n")
    name = header[len(BEGIN_PREFIX) :].rsplit(" -----", 1)[0]
    data = gzip.decompress(base64.b64decode("".join(body.split())))
    return name, data.decode()


def strip_blocks(text: str) -> str:
    """Log text for people: the encoded notebook replaced by one line (chunks may split it)."""
    out = []
    rest = text
    while rest:
        start = rest.find(BEGIN_PREFIX)
        end = rest.find(END)
        if end >= 0 and (start < 0 or end < start):
            rest = rest[end + len(END) :].lstrip("\n")
            continue
        if start < 0:
            out.append(rest)
            break
        out.append(rest[:start] + "[the executed notebook is being sent back]\n")
        rest = rest[end + len(END) :].lstrip("\n") if end > start else ""
    return "".join(out)


def inject_parameters(nb: Any, parameters: dict[str, Any]) -> None:
    """Add a cell assigning ``parameters`` after the cell tagged ``parameters``."""
    import nbformat

    source = "# Parameters\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    index = next(
        (
            i + 1
            for i, c in enumerate(nb.cells)
            if "parameters" in c.get("metadata", {}).get("tags", [])
        ),
        0,
    )
    nb.cells.insert(index, cell)


def log(message: str) -> None:
    print(f"[aiinfn {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(path: Path, output_dir: Path, parameters: dict[str, Any], timeout: int | None) -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    if parameters:
        inject_parameters(nb, parameters)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False)
    status = 0
    log(f"running {path.name}: {len(code_cells)} code cells")
    with client.setup_kernel():
        for number, cell in enumerate(code_cells, 1):
            index = nb.cells.index(cell)
            log(f"cell {number}/{len(code_cells)}")
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as exc:
                log(f"cell {number} failed: {str(exc).strip().splitlines()[-1]}")
                status = 1
                break
            finally:
                for output in cell.get("outputs", ()):
                    if output.get("output_type") == "stream":
                        sys.stdout.write(output.get("text", ""))
                    elif "data" in output and "text/plain" in output["data"]:
                        sys.stdout.write(output["data"]["text/plain"] + "\n")
                sys.stdout.flush()
    text = nbformat.writes(nb)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / path.name).write_text(text)
    log("finished" if status == 0 else "stopped at the failing cell")
    sys.stdout.write(encode_block(path.name, text))
    sys.stdout.flush()
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiinfn_hub.runner", description=__doc__)
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
    return run(args.notebook, args.output_dir, parameters, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
