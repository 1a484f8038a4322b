"""Label selectors (string and LabelSelector forms, node-affinity terms) and field selectors."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")
_OPS = {"=", "==", "!=", "!", "(", ")", ",", ">", "<"}


class SelectorError(ValueError):
    """A selector that does not parse; the API server answers 400."""


class UnsupportedField(SelectorError):
    """A field selector on a field the resource does not index."""

    def __init__(self, field: str) -> None:
        super().__init__(f"field label not supported: {field}")
        self.field = field


@dataclass(frozen=True)
class Requirement:
    """One term: ``key`` with an operator (In, NotIn, Exists, DoesNotExist, Gt, Lt)."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op == "Exists":
            return present
        if self.op == "DoesNotExist":
            return not present
        if self.op == "In":
            return present and labels[self.key] in self.values
        if self.op == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.op in ("Gt", "Lt") and present:
            try:
                have, want = int(labels[self.key]), int(self.values[0])
            except (ValueError, IndexError):
                return False
            return have > want if self.op == "Gt" else have < want
        return False


Selector = tuple[Requirement, ...]


def matches(selector: Selector, labels: Mapping[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in selector)


def parse_label_selector(text: str | None) -> Selector:
    """Parse ``a=b,c!=d,e in (f,g),!h,i`` into requirements; SelectorError if malformed."""
    tokens = _tokenize(text or "")
    out: list[Requirement] = []
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise SelectorError(f"unable to parse requirement: unexpected end in {text!r}")
        pos += 1
        return tokens[pos - 1]

    while pos < len(tokens):
        token = take()
        if token == "!":
            out.append(Requirement(_key(take(), text), "DoesNotExist"))
        else:
            key = _key(token, text)
            nxt = tokens[pos] if pos < len(tokens) else ","
            if nxt == ",":
                out.append(Requirement(key, "Exists"))
            else:
                pos += 1
                if nxt in ("=", "=="):
                    out.append(Requirement(key, "In", (_value(take(), text),)))
                elif nxt == "!=":
                    out.append(Requirement(key, "NotIn", (_value(take(), text),)))
                elif nxt in (">", "<"):
                    out.append(Requirement(key, "Gt" if nxt == ">" else "Lt", (take(),)))
                elif nxt in ("in", "notin"):
                    out.append(Requirement(key, "In" if nxt == "in" else "NotIn", _set(take)))
                else:
                    raise SelectorError(
                        f"unable to parse requirement: found '{nxt}', expected: "
                        "in, notin, =, ==, !=, gt, lt"
                    )
        if pos < len(tokens) and take() != ",":
            raise SelectorError(f"unable to parse requirement: expected ',' in {text!r}")
    return tuple(out)


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise SelectorError(f"unable to parse requirement: {text!r}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _key(token: str, text: str | None) -> str:
    if token in _OPS or token in ("in", "notin"):
        raise SelectorError(f"unable to parse requirement: found '{token}' in {text!r}")
    return token


def _value(token: str, text: str | None) -> str:
    if token == ",":
        return ""
    return _key(token, text)


def _set(take: Callable[[], str]) -> tuple[str, ...]:
    if take() != "(":
        raise SelectorError("unable to parse requirement: found '', expected: '('")
    values: list[str] = []
    while True:
        token = take()
        if token == ")":
            return tuple(values)
        if token != ",":
            values.append(token)


def from_label_selector(selector: Mapping[str, Any] | None) -> Selector:
    """A ``metav1.LabelSelector`` (matchLabels, matchExpressions) as requirements."""
    selector = selector or {}
    out = [Requirement(k, "In", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    out += [expression(e) for e in selector.get("matchExpressions") or []]
    return tuple(out)


def expression(expr: Mapping[str, Any]) -> Requirement:
    """A matchExpressions entry (key, operator, values) as a requirement."""
    return Requirement(
        expr["key"], expr["operator"], tuple(str(v) for v in expr.get("values") or [])
    )


def node_affinity_matches(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """The pod's nodeSelector and required node affinity against a node's labels and name."""
    labels = node.get("metadata", {}).get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    if not terms:
        return True
    name = {"metadata.name": node.get("metadata", {}).get("name", "")}
    return any(_term_matches(term, labels, name) for term in terms)


def _term_matches(term: Mapping[str, Any], labels: Mapping, fields: Mapping) -> bool:
    expressions = term.get("matchExpressions") or []
    field_expressions = term.get("matchFields") or []
    if not expressions and not field_expressions:
        return False
    return all(expression(e).matches(labels) for e in expressions) and all(
        expression(e).matches(fields) for e in field_expressions
    )


# -- field selectors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool


def parse_field_selector(text: str | None, supported: Callable[[str], bool]) -> tuple:
    """Parse ``f=v,g!=w``; fields not ``supported`` raise SelectorError as a server does."""
    out = []
    for term in (text or "").split(","):
        term = term.strip()
        if not term:
            continue
        op = next((o for o in ("!=", "==", "=") if o in term), None)
        if op is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, value = term.split(op, 1)
        negate = op == "!="
        field = field.strip()
        if not supported(field):
            raise UnsupportedField(field)
        out.append(FieldRequirement(field, value.strip(), negate))
    return tuple(out)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string at a dotted path of an object, "" when absent."""
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def fields_match(requirements: tuple, obj: Mapping[str, Any]) -> bool:
    return all((field_value(obj, r.field) == r.value) != r.negate for r in requirements)


# -- taints and tolerations ----------------------------------------------------------------------


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Whether one toleration tolerates one taint (empty key with Exists tolerates all)."""
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    if (toleration.get("operator") or "Equal") == "Exists":
        return not toleration.get("key") or toleration.get("key") == taint.get("key")
    return toleration.get("key") == taint.get("key") and (toleration.get("value") or "") == (
        taint.get("value") or ""
    )


def untolerated_taint(
    tolerations: list[Mapping[str, Any]] | None, taints: list[Mapping[str, Any]] | None
) -> Mapping[str, Any] | None:
    """The first NoSchedule/NoExecute taint none of the tolerations tolerates, if any."""
    for taint in taints or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations or []):
            return taint
    return None
