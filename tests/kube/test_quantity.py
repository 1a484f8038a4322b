"""The one quantity parser: the API server's grammar, its edge cases and what it refuses.
Expected values are written out by hand from the Kubernetes quantity rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aiinfn_hub.kube.quantity import QuantityError, format_quantity, parse_quantity, whole_units


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2", "2"),
        ("0.5", "0.5"),
        (".5", "0.5"),
        ("5.", "5"),
        ("+3", "3"),
        ("-1", "-1"),
        ("500m", "0.5"),
        ("1m", "0.001"),
        ("250u", "0.00025"),
        ("7n", "0.000000007"),
        ("1k", "1000"),
        ("4M", "4000000"),
        ("4G", "4000000000"),
        ("2T", "2000000000000"),
        ("1P", "1000000000000000"),
        ("1E", "1000000000000000000"),
        ("1Ki", "1024"),
        ("512Mi", "536870912"),
        ("8Gi", "8589934592"),
        ("1.5Gi", "1610612736"),
        ("1Ti", "1099511627776"),
        ("1Pi", "1125899906842624"),
        ("1Ei", "1152921504606846976"),
        ("1e3", "1000"),
        ("1E3", "1000"),
        ("2.5e2", "250"),
        ("1e-3", "0.001"),
        ("1e+2", "100"),
        ("12e0", "12"),
        (" 2Gi ", "2147483648"),
        (3, "3"),
        (0.25, "0.25"),
        (Decimal("1.5"), "1.5"),
    ],
)
def test_the_api_servers_forms(text, expected):
    assert parse_quantity(text) == Decimal(expected)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        " ",
        "Gi",
        "m",
        "two",
        "1.2.3",
        "1ki",  # binary suffixes are capitalised
        "1K",  # there is no decimal K
        "1Gb",
        "1 Gi",  # no space between number and suffix
        "1e",  # an exponent needs digits
        "1e1.5",  # and they are whole
        "1mi",
        "0x10",
        "1_000",
        "--1",
        "1e999999999",  # too large for any resource
        "NaN",
        "inf",
        float("nan"),
        float("inf"),
        True,
        None,
        [1],
        {"cpu": 1},
    ],
)
def test_what_is_no_quantity(bad):
    with pytest.raises(QuantityError, match="quantities must match the regular expression"):
        parse_quantity(bad)
    with pytest.raises(ValueError):  # callers that catch ValueError keep working
        parse_quantity(bad)


def test_whole_units_round_up_as_kubernetes_value_does():
    assert whole_units(Decimal("0.001")) == 1
    assert whole_units(parse_quantity("1500m")) == 2
    assert whole_units(Decimal(4)) == 4


@pytest.mark.parametrize(
    ("amount", "resource", "text"),
    [
        ("8589934592", "memory", "8Gi"),
        ("536870912", "memory", "512Mi"),
        ("1000", "memory", "1000"),
        ("1024", "ephemeral-storage", "1Ki"),
        ("1152921504606846976", "memory", "1Ei"),
        ("0", "memory", "0"),
        ("0.5", "cpu", "500m"),
        ("2", "cpu", "2"),
        ("1024", "cpu", "1024"),
        ("4", "nvidia.com/gpu", "4"),
    ],
)
def test_canonical_text(amount, resource, text):
    assert format_quantity(Decimal(amount), resource) == text
    assert parse_quantity(text) == Decimal(amount)
