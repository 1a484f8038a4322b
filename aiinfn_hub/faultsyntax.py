"""How a fault is written on the command line, for the sandbox and the real control plane alike.

One form is documented (``provider-failure:tier1``, ``exit-code:tier1:502``,
``api-latency:200``); the spaced form (``provider-failure tier1``) means the same. Each
stack checks the names against its own faults; this module only reads the words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

#: what an option's value is (as the caller's options hold it)
T = TypeVar("T")

#: What ``clear`` answers.
ALL_OFF = "All faults are off."


@dataclass(frozen=True)
class FaultWords:
    """A fault as written: its name, what it applies to (a site, or a number for faults that
    take one) and what follows (a message or an exit code), each None when not written."""

    name: str
    target: str | None = None
    detail: str | None = None


def read_fault(first: str, second: str | None = None) -> FaultWords:
    """``NAME[:TARGET[:DETAIL]]`` or ``NAME TARGET`` as :class:`FaultWords`; ValueError when the
    target is written twice (``provider-failure:tier1 leonardo``)."""
    name, colon, rest = first.partition(":")
    target, _, detail = rest.partition(":")
    if colon and second is not None:
        raise ValueError(
            f"{first} {second}: write the fault once, either {name}:{target or second} "
            f"or {name} {target or second}"
        )
    return FaultWords(name, (target or None) if colon else second, detail or None)


def one_detail(words: FaultWords, option: str, value: T | None) -> str | T | None:
    """The detail written after the last colon, or the ``option``'s value; ValueError when
    both are given (``exit-code:tier1:502 --code 404``)."""
    if words.detail is not None and value is not None:
        raise ValueError(f"give the {option.lstrip('-')} once, after the colon or with {option}")
    return words.detail if words.detail is not None else value


def fault_sentence(
    name: str, site: str | None, *, doing: str | None, did: str | None = None
) -> str:
    """``provider-failure at tier1 is on: <doing>.``, ``... is off.`` when ``doing`` is None,
    or ``preempt at tier1: <did>.`` for a fault that acts once."""
    where = f" at {site}" if site else ""
    if did is not None:
        return f"{name}{where}: {did}."
    return f"{name}{where} is on: {doing}." if doing is not None else f"{name}{where} is off."


def fault_report(sentence: str, on: list[str]) -> str:
    """The sentence, then the faults still on written as the command takes them."""
    return f"{sentence}\nFaults on now: {', '.join(on) if on else 'none'}."
