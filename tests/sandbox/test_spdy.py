"""The SPDY/3.1 session of port-forward, frame by frame: what kubectl does not show (a
stream the kubelet refuses, pings, frames split across WebSocket messages)."""

from __future__ import annotations

import struct
import zlib

from aiinfn_hub.sandbox.streaming.forward import stream_refusal
from aiinfn_hub.sandbox.streaming.spdy import (
    DICTIONARY,
    FrameReader,
    FrameType,
    RstStatus,
    Session,
    Stream,
    control_frame,
    data_frame,
    encode_headers,
)


class Client:
    """The client's half: header blocks compressed as Go's spdystream compresses them."""

    def __init__(self) -> None:
        self.deflate = zlib.compressobj(level=9, zdict=DICTIONARY)

    def syn_stream(self, stream_id: int, headers: dict[str, str], *, fin: bool = False) -> bytes:
        block = encode_headers({k: [v] for k, v in headers.items()})
        packed = self.deflate.compress(block) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        body = struct.pack(">IIBB", stream_id, 0, 0, 0) + packed
        return control_frame(FrameType.SYN_STREAM, 1 if fin else 0, body)


def session() -> tuple[Session, list[bytes]]:
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    return Session(send, stream_refusal), sent


def frames_of(sent: list[bytes]):
    return FrameReader().feed(b"".join(sent))


async def test_a_stream_is_answered_and_its_data_read_across_split_messages() -> None:
    server, sent = session()
    client = Client()
    opening = client.syn_stream(1, {"streamType": "data", "port": "8080", "requestID": "0"})
    data = data_frame(1, b"GET / HTTP/1.0\r\n\r\n", fin=True)
    wire = opening + data
    for piece in (wire[:5], wire[5:40], wire[40:]):  # as WebSocket messages may cut it
        await server.feed(piece)
    (reply,) = frames_of(sent)
    assert (reply.kind, reply.stream_id, reply.headers) == (FrameType.SYN_REPLY, 1, {})
    stream = await server.new_streams.get()
    assert stream is not None and stream.header("streamType") == "data"
    assert stream.header("Port") == "8080"  # header names are read case-insensitively
    assert await stream.read() == b"GET / HTTP/1.0\r\n\r\n"
    assert await stream.read() is None  # FIN

    await stream.write(b"HTTP/1.0 200 OK\r\n\r\n")
    await stream.close()
    answer = frames_of(sent)[1:]
    assert [(f.kind, f.stream_id, f.payload, f.fin) for f in answer] == [
        (None, 1, b"HTTP/1.0 200 OK\r\n\r\n", False),
        (None, 1, b"", True),
    ]


async def test_a_stream_without_a_port_is_reset_as_the_kubelet_resets_it() -> None:
    server, sent = session()
    await server.feed(Client().syn_stream(1, {"streamType": "data"}))
    (reset,) = frames_of(sent)
    assert reset.kind is FrameType.RST_STREAM
    assert struct.unpack(">II", reset.payload) == (1, RstStatus.CANCEL)
    assert server.new_streams.empty()
    assert stream_refusal_words({"streamType": "data"}) == '"port" header is required'
    assert stream_refusal_words({"port": "0", "streamType": "data"}) == 'port "0" must be > 0'
    assert stream_refusal_words({"port": "80", "streamType": "x"}) == 'invalid stream type "x"'


def stream_refusal_words(headers: dict[str, str]) -> str | None:
    server, _ = session()
    return stream_refusal(Stream(server, 1, {k.lower(): [v] for k, v in headers.items()}))


async def test_the_clients_pings_are_echoed_and_goaway_ends_the_session() -> None:
    server, sent = session()
    await server.feed(control_frame(FrameType.PING, 0, struct.pack(">I", 7)))
    (pong,) = frames_of(sent)
    assert (pong.kind, pong.payload) == (FrameType.PING, struct.pack(">I", 7))
    await server.feed(control_frame(FrameType.GOAWAY, 0, struct.pack(">II", 0, 0)))
    assert server.closed and await server.new_streams.get() is None
