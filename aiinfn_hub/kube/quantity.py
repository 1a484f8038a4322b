"""Kubernetes resource quantities (``500m``, ``64Gi``, ``1e3``, ``2``): the one parser that
placement, the jobs service and the sandbox share. Pure: no I/O and no client imports, so the
sandbox may use it as a low-level helper.

The grammar is the API server's own (``resource.Quantity``): a signed decimal number, then a
binary suffix (``Ki`` to ``Ei``), a decimal exponent (``e3``, ``E-2``) or a decimal suffix
(``n u m k M G T P E``, or none). As when Kubernetes decodes JSON, white space around the text
is dropped and a JSON number is read as the same quantity. ``kubernetes_asyncio`` has no parser
of its own.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, DecimalException

BINARY_SUFFIXES: dict[str, Decimal] = {
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
DECIMAL_SUFFIXES: dict[str, Decimal] = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}
# ``1E`` is an exa; ``1E3`` is an exponent: the exponent is tried before the decimal suffix.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>[KMGTPE]i)|[eE](?P<exponent>[+-]?[0-9]+)|(?P<decimal>[numkMGTPE]?))"
)


class QuantityError(ValueError):
    """Text (or a value) that is no Kubernetes quantity."""

    def __init__(self, value: object) -> None:
        self.value = value
        super().__init__(f"quantities must match the regular expression: {value!r}")


def parse_quantity(value: object) -> Decimal:
    """A quantity as an exact Decimal in base units (cores, bytes, devices).

    Accepts text in the API server's grammar and JSON numbers; raises :class:`QuantityError`
    (a ValueError) for anything else, booleans and non-finite numbers included.
    """
    if isinstance(value, bool):
        raise QuantityError(value)
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        if not number.is_finite():
            raise QuantityError(value)
        return number
    if not isinstance(value, str):
        raise QuantityError(value)
    match = _QUANTITY.fullmatch(value.strip())
    if match is None:
        raise QuantityError(value)
    number = Decimal(match["number"])
    try:
        if match["binary"]:
            return number * BINARY_SUFFIXES[match["binary"]]
        if match["exponent"] is not None:
            return number.scaleb(int(match["exponent"]))
        return number * DECIMAL_SUFFIXES[match["decimal"]]
    except DecimalException as exc:  # an exponent too large for any resource
        raise QuantityError(value) from exc


def whole_units(quantity: Decimal) -> int:
    """A quantity as whole units (bytes, devices), rounded up as Kubernetes' ``Value()`` does."""
    return math.ceil(quantity)


def format_quantity(value: Decimal, resource: str = "") -> str:
    """A canonical text: whole numbers plain (memory and storage in the largest exact binary
    unit, such as ``8Gi``), fractions in millis (``500m``)."""
    if value == value.to_integral_value():
        number = int(value)
        if resource == "memory" or resource.endswith("storage"):
            for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
                unit = int(BINARY_SUFFIXES[suffix])
                if number and number % unit == 0:
                    return f"{number // unit}{suffix}"
        return str(number)
    millis = (value * 1000).to_integral_value()
    return f"{int(millis)}m"
