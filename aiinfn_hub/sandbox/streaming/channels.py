"""The channel WebSocket protocols of exec (and of the older port-forward), and exec's Status.

Each binary message starts with a channel byte: 0 stdin, 1 stdout, 2 stderr, 3 error (the
final ``metav1.Status``), 4 terminal resize; ``v5.channel.k8s.io`` adds 255, a half-close of
the channel in the next byte. The ``base64.`` variants send text messages, the channel as an
ASCII digit and the data base64-encoded.

Which protocol a client gets, and the words of the final Status, follow a kubelet of
Kubernetes 1.36 behind its API server: a request offering v5 is served by the kubelet's
WebSocket translator in front of the container runtime (so its messages carry the
translator's wording on top of the runtime's); any other is handed to the runtime's own
WebSocket server, which speaks v4 and the older protocols.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from dataclasses import dataclass
from typing import Any


class Channel(enum.IntEnum):
    STDIN = 0
    STDOUT = 1
    STDERR = 2
    ERROR = 3
    RESIZE = 4
    CLOSE = 255  # v5: half-close of the channel named by the next byte


V5 = "v5.channel.k8s.io"
#: The SPDY/3.1-in-WebSocket protocols of port-forward (kubectl 1.30+).
TUNNEL_PREFIX = "SPDY/3.1+"
TUNNEL_PORT_FORWARD = TUNNEL_PREFIX + "portforward.k8s.io"


@dataclass(frozen=True)
class ChannelProtocol:
    """A WebSocket subprotocol of the channel family."""

    name: str
    base64: bool = False
    json_status: bool = False  # v4 and later: a metav1.Status on the error channel
    stream_close: bool = False  # v5: the CLOSE signal
    translated: bool = False  # served by the kubelet's translator (v5 only)

    def encode(self, channel: int, data: bytes) -> bytes | str:
        """A message carrying ``data`` on ``channel`` (text for the base64 protocols)."""
        if self.base64:
            return str(channel) + base64.b64encode(data).decode()
        return bytes([channel]) + data

    def decode(self, message: bytes | str) -> tuple[int, bytes] | None:
        """``(channel, data)`` of a message; None for an empty or undecodable one."""
        raw = message.encode() if isinstance(message, str) else message
        if not raw:
            return None
        if self.stream_close and raw[0] == Channel.CLOSE:
            return (Channel.CLOSE, raw[1:])
        if not self.base64:
            return raw[0], raw[1:]
        try:
            return raw[0] - ord("0"), base64.b64decode(raw[1:], validate=True)
        except (binascii.Error, ValueError):
            return None


_LEGACY = (
    ChannelProtocol("v4.channel.k8s.io", json_status=True),
    ChannelProtocol("v4.base64.channel.k8s.io", base64=True, json_status=True),
    ChannelProtocol("channel.k8s.io"),
    ChannelProtocol("base64.channel.k8s.io", base64=True),
)
_V5 = ChannelProtocol(V5, json_status=True, stream_close=True, translated=True)
_NONE = ChannelProtocol("")  # a client that names no subprotocol: binary, pre-v4


def exec_protocol(offered: list[str]) -> ChannelProtocol | None:
    """The protocol for an exec request offering ``offered`` (in the client's order), or
    None when none is served. v5 wins wherever offered: the kubelet translates those."""
    if V5 in offered:
        return _V5
    if not offered:
        return _NONE
    by_name = {p.name: p for p in _LEGACY}
    return next((by_name[name] for name in offered if name in by_name), None)


def port_forward_protocol(offered: list[str]) -> ChannelProtocol | None:
    """The channel protocol of the older WebSocket port-forward (v4 and its base64 form)."""
    if not offered:
        return _NONE
    by_name = {p.name: p for p in _LEGACY[:2]}
    return next((by_name[name] for name in offered if name in by_name), None)


def exec_protocol_names() -> list[str]:
    return [_V5.name, *(p.name for p in _LEGACY)]


def go_json(value: Any) -> bytes:
    """JSON as Go's encoding/json writes it (compact, ``<``, ``>`` and ``&`` escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escaped)
    return text.encode()


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def internal_status(cause: str) -> dict[str, Any]:
    """``apierrors.NewInternalError(cause)``, as JSON."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {cause}",
        "reason": "InternalError",
        "details": {"causes": [{"message": cause}]},
        "code": 500,
    }


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


def exit_status(protocol: ChannelProtocol, code: int, argv: list[str]) -> dict[str, Any]:
    """The Status of a command that ended with a non-zero exit code."""
    if protocol.translated:
        detail = f"command terminated with exit code {code}"
    else:
        detail = f"error executing command {_go_list(argv)}, exit code {code}"
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {detail}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def failure_status(protocol: ChannelProtocol, error: str) -> dict[str, Any]:
    """The Status of a command that could not run (``error`` in the runtime's words)."""
    status = internal_status(f"error executing command in container: {error}")
    if protocol.translated:  # the translator wraps what the runtime answered once more
        status = internal_status(status["message"])
    return status


def status_message(protocol: ChannelProtocol, status: dict[str, Any]) -> bytes | None:
    """What the error channel carries for ``status``: its JSON (v4, v5), or before v4 the
    words of a failure and nothing for a success."""
    if protocol.json_status:
        return go_json(status)
    if status["status"] == "Success":
        return None
    return status["message"].encode()
