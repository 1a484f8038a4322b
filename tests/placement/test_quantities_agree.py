"""The launch dialog reads CPUs, memory and time limits as the service does: both are checked
against the same examples (labextension/tests/data/quantities.json)."""

import json
from pathlib import Path

import pytest

from aiinfn_hub.placement.errors import RequestError
from aiinfn_hub.placement.quantities import parse_cpu, parse_duration, parse_memory

EXAMPLES = json.loads(
    (Path(__file__).parents[2] / "labextension/tests/data/quantities.json").read_text()
)
PARSERS = {"cpu": parse_cpu, "memory": parse_memory, "walltime": parse_duration}


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [(kind, text, value) for kind in PARSERS for text, value in EXAMPLES[kind]],
)
def test_the_service_reads_what_the_dialog_reads(kind, text, expected):
    if expected is None:
        with pytest.raises(RequestError):
            PARSERS[kind](text)
    else:
        assert PARSERS[kind](text) == pytest.approx(expected)
