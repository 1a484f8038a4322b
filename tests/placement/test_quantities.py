"""Quantities and durations: the accepted forms, and errors that name the field."""

import pytest

from aiinfn_hub.placement import RequestError
from aiinfn_hub.placement.quantities import (
    format_cpu,
    format_duration,
    format_memory,
    parse_cpu,
    parse_duration,
    parse_memory,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8Gi", 8 * 2**30),
        ("512Mi", 512 * 2**20),
        ("4G", 4 * 10**9),
        ("1.5Gi", 3 * 2**29),
        (1024, 1024),
        ("1e9", 10**9),
        ("2Ti", 2 * 2**40),
        (" 64Mi ", 64 * 2**20),
        ("1500m", 2),  # a fraction of a byte rounds up, as Kubernetes does
    ],
)
def test_memory_forms(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize(
    "bad", ["12XB", "", "Gi", "-1Gi", "0", "8gi", "1e", True, None, [1], float("nan")]
)
def test_memory_errors_name_field_and_form(bad):
    with pytest.raises(RequestError) as info:
        parse_memory(bad)
    assert info.value.field == "memory"
    assert "8Gi" in info.value.message or "more than zero" in info.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2", 2.0), ("500m", 0.5), (4, 4.0), ("0.25", 0.25), ("1e1", 10.0), ("2k", 2000.0)],
)
def test_cpu_forms(text, expected):
    assert parse_cpu(text) == expected


@pytest.mark.parametrize("bad", ["two", "0", "-1", "1.5x", False])
def test_cpu_errors(bad):
    with pytest.raises(RequestError, match="cpu"):
        parse_cpu(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("01:30:00", 5400),
        ("1-00:00:00", 86400),
        ("3600", 3600),
        (60, 60),
    ],
)
def test_duration_forms(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["forever", "", "2x", "h", "0s", -5, 1.5, "1h 30"])
def test_duration_errors_give_accepted_form(bad):
    with pytest.raises(RequestError) as info:
        parse_duration(bad)
    assert info.value.field == "walltime"


def test_formatting_round_trips():
    assert format_memory(8 * 2**30) == "8Gi"
    assert format_memory(1000) == "1000"
    assert format_duration(5400) == "1h30m"
    assert format_duration(0) == "0s"
    assert format_cpu(0.5) == "500m"
    assert format_cpu(2.0) == "2"
    for seconds in (59, 3600, 90061):
        assert parse_duration(format_duration(seconds)) == seconds
