"""SPDY/3.1 framing, as Kubernetes speaks it for port-forward (the server side of a session).

kubectl 1.30+ forwards ports with SPDY carried inside WebSocket binary messages (the
``SPDY/3.1+portforward.k8s.io`` subprotocol): the messages' payloads, joined, are the SPDY
byte stream that Go's ``moby/spdystream`` writes. That library does no flow control (it
ignores WINDOW_UPDATE and SETTINGS), so neither does this session: it parses frames, answers
each SYN_STREAM with an empty SYN_REPLY, echoes the peer's PINGs, and gives each stream's data
to its reader.

Header blocks are zlib streams (one per direction for the whole session, flushed per block)
with the dictionary of the SPDY/3 specification (draft-mbelshe-httpbis-spdy-00, 2.6.10.1).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("aiinfn_hub.sandbox.streaming.spdy")
VERSION = 3
MAX_DATA = 32 * 1024  # bytes per DATA frame we write


class FrameType(enum.IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(enum.IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    CANCEL = 5


FLAG_FIN = 0x01

_WORD_TEXT = (
    "options head post put delete trace accept accept-charset accept-encoding "
    "accept-language accept-ranges age allow authorization cache-control connection "
    "content-base content-encoding content-language content-length content-location "
    "content-md5 content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
    "server te trailer transfer-encoding upgrade user-agent vary via warning "
    "www-authenticate method get status"
)
_WORDS = [
    *_WORD_TEXT.split(),
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
#: The SPDY/3 header compression dictionary: length-prefixed words, then a run of text.
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


class ProtocolError(Exception):
    """The peer broke the framing; the session ends."""


def encode_headers(headers: dict[str, list[str]]) -> bytes:
    """An uncompressed name/value block: names lowercased, several values joined by NUL."""
    out = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        raw_name, raw_value = name.lower().encode(), "\0".join(values).encode()
        out += [struct.pack(">I", len(raw_name)), raw_name]
        out += [struct.pack(">I", len(raw_value)), raw_value]
    return b"".join(out)


def decode_headers(block: bytes) -> dict[str, list[str]]:
    """A name/value block as ``{lowercased name: [values]}``."""
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        at, headers = 4, {}
        for _ in range(count):
            (size,) = struct.unpack_from(">I", block, at)
            name = block[at + 4 : at + 4 + size].decode().lower()
            at += 4 + size
            (size,) = struct.unpack_from(">I", block, at)
            headers[name] = block[at + 4 : at + 4 + size].decode().split("\0")
            at += 4 + size
    except (struct.error, UnicodeDecodeError) as exc:
        raise ProtocolError(f"a malformed header block: {exc}") from exc
    return headers


def control_frame(kind: FrameType, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


def data_frame(stream_id: int, data: bytes, *, fin: bool = False) -> bytes:
    flags = FLAG_FIN if fin else 0
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


@dataclass
class Frame:
    """One parsed frame: a control frame's type (None for DATA), flags, stream and body."""

    kind: FrameType | None
    flags: int
    stream_id: int
    payload: bytes
    headers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class FrameReader:
    """Frames out of a byte stream that arrives in arbitrary pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= 8:
            (length,) = struct.unpack_from(">I", self._buffer, 4)
            size = 8 + (length & 0xFFFFFF)
            if len(self._buffer) < size:
                break
            raw = bytes(self._buffer[:size])
            del self._buffer[:size]
            frames.append(self._parse(raw))
        return frames

    def _parse(self, raw: bytes) -> Frame:
        first, length = struct.unpack_from(">II", raw, 0)
        flags, body = length >> 24, raw[8:]
        if not first & 0x80000000:
            return Frame(None, flags, first & 0x7FFFFFFF, body)
        if (first >> 16) & 0x7FFF != VERSION:
            raise ProtocolError(f"SPDY version {(first >> 16) & 0x7FFF}, not {VERSION}")
        try:
            kind = FrameType(first & 0xFFFF)
        except ValueError:
            return Frame(None, -1, 0, b"")  # an unknown control frame: ignored
        stream_id = struct.unpack_from(">I", body, 0)[0] & 0x7FFFFFFF if len(body) >= 4 else 0
        frame = Frame(kind, flags, stream_id, body)
        offset = {FrameType.SYN_STREAM: 10, FrameType.SYN_REPLY: 4, FrameType.HEADERS: 4}
        if kind in offset:
            try:
                block = self._inflate.decompress(body[offset[kind] :])
            except zlib.error as exc:
                raise ProtocolError(f"a header block that does not inflate: {exc}") from exc
            frame.headers = decode_headers(block)
        return frame


class Stream:
    """One stream the peer opened: its headers, what it sent, and our half."""

    def __init__(self, session: Session, stream_id: int, headers: dict[str, list[str]]) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self._incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.remote_closed = False
        self.local_closed = False
        self.reset = False

    def header(self, name: str) -> str:
        return (self.headers.get(name.lower()) or [""])[0]

    async def read(self) -> bytes | None:
        """The next piece the peer sent; None once it has finished (FIN) or reset."""
        return await self._incoming.get()

    def _received(self, data: bytes | None) -> None:
        if data is None:
            if self.remote_closed:
                return
            self.remote_closed = True
        self._incoming.put_nowait(data)

    async def write(self, data: bytes) -> None:
        if self.local_closed or self.reset:
            return
        for start in range(0, len(data), MAX_DATA):
            await self.session.send(data_frame(self.id, data[start : start + MAX_DATA]))

    async def close(self) -> None:
        """Our half is done (an empty DATA frame with FIN)."""
        if not (self.local_closed or self.reset):
            self.local_closed = True
            await self.session.send(data_frame(self.id, b"", fin=True))


StreamAccepted = Callable[[Stream], str | None]


class Session:
    """The server side of a SPDY session over ``send`` (which writes bytes to the peer).

    ``accept`` sees each new stream and returns None to take it (an empty SYN_REPLY is
    sent) or why it refuses it (the stream is reset, as Kubernetes resets a stream its
    handler rejects)."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]], accept: StreamAccepted) -> None:
        self._send = send
        self._accept = accept
        self._reader = FrameReader()
        self._deflate = zlib.compressobj(level=9, zdict=DICTIONARY)
        self.streams: dict[int, Stream] = {}
        self.new_streams: asyncio.Queue[Stream | None] = asyncio.Queue()
        self.closed = False

    async def send(self, frame: bytes) -> None:
        if not self.closed:
            await self._send(frame)

    def _header_block(self, headers: dict[str, list[str]]) -> bytes:
        raw = encode_headers(headers)
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    async def feed(self, data: bytes) -> None:
        """Handle what arrived from the peer."""
        for frame in self._reader.feed(data):
            await self._handle(frame)

    async def _handle(self, frame: Frame) -> None:
        stream = self.streams.get(frame.stream_id)
        if frame.kind is None:
            if stream is not None and frame.flags >= 0:
                if frame.payload:
                    stream._received(frame.payload)
                if frame.fin:
                    stream._received(None)
        elif frame.kind is FrameType.SYN_STREAM:
            await self._open(frame)
        elif frame.kind is FrameType.RST_STREAM:
            if stream is not None:
                stream.reset = True
                stream._received(None)
                self.streams.pop(frame.stream_id, None)
        elif frame.kind is FrameType.PING:
            (ping_id,) = struct.unpack_from(">I", frame.payload, 0)
            if ping_id % 2 == 1:  # the client's: echoed; ours would be even
                await self.send(control_frame(FrameType.PING, 0, frame.payload[:4]))
        elif frame.kind is FrameType.GOAWAY:
            self.close()
        # SETTINGS, WINDOW_UPDATE, HEADERS and SYN_REPLY (we open no streams): ignored

    async def _open(self, frame: Frame) -> None:
        if frame.stream_id in self.streams or frame.stream_id % 2 == 0:
            payload = struct.pack(">II", frame.stream_id, RstStatus.PROTOCOL_ERROR)
            await self.send(control_frame(FrameType.RST_STREAM, 0, payload))
            return
        stream = Stream(self, frame.stream_id, frame.headers)
        refusal = self._accept(stream)
        if refusal is not None:
            log.info("stream %s refused: %s", frame.stream_id, refusal)
            payload = struct.pack(">II", frame.stream_id, RstStatus.CANCEL)
            await self.send(control_frame(FrameType.RST_STREAM, 0, payload))
            return
        self.streams[frame.stream_id] = stream
        payload = struct.pack(">I", frame.stream_id) + self._header_block({})
        await self.send(control_frame(FrameType.SYN_REPLY, 0, payload))
        if frame.fin:
            stream._received(None)
        self.new_streams.put_nowait(stream)

    def close(self) -> None:
        """The session ends: every stream's reader sees its end."""
        if self.closed:
            return
        self.closed = True
        for stream in self.streams.values():
            stream._received(None)
        self.new_streams.put_nowait(None)

    def remove(self, stream: Stream) -> None:
        self.streams.pop(stream.id, None)
