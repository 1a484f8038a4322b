"""Each subscriber of job events has a bounded queue: one that never reads is dropped with a
last event telling it to reconnect, and costs bounded memory meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

from aiinfn_hub.jobs.events import JobEvents
from aiinfn_hub.jobs.handlers import EventsHandler
from aiinfn_hub.sandbox.testing import wait_until


def event(n: int, owner: str = "Mario.Rossi@infn.it", payload: str = "") -> dict:
    return {"type": "job", "job": {"id": f"job{n}", "owner": owner, "pad": payload}, "time": n}


async def test_a_subscriber_that_never_reads_is_dropped_with_a_last_event():
    events = JobEvents(queue_limit=5)
    async with (
        events.subscribe("Mario.Rossi@infn.it") as idle,
        events.subscribe("Mario.Rossi@infn.it") as reader,
    ):
        read = []
        for n in range(50):
            events.publish("Mario.Rossi@infn.it", event(n))
            while not reader.empty():
                read.append(reader.get_nowait())
        assert [e["job"]["id"] for e in read] == [f"job{n}" for n in range(50)]
        # the idle one: the first five, then why it was dropped, then the end; nothing more
        assert idle.qsize() == 7
        queued = [idle.get_nowait() for _ in range(7)]
        assert [e["job"]["id"] for e in queued[:5]] == [f"job{n}" for n in range(5)]
        assert queued[5]["type"] == "reconnect" and queued[5]["time"] == 5
        assert "connect again and read your jobs afresh" in queued[5]["reason"]
        assert queued[6] is None
        assert len(events.subscribers) == 1  # the reader stays
        events.publish("Mario.Rossi@infn.it", event(99))
        assert idle.empty()


async def test_only_the_owners_events_count_against_a_subscriber():
    events = JobEvents(queue_limit=2)
    async with events.subscribe("alice") as alice, events.subscribe(None) as admin:
        for n in range(10):
            events.publish("bob", event(n, owner="bob"))
            if not admin.empty():
                admin.get_nowait()
        assert alice.empty() and events.subscribers[0].owner == "alice"
        events.close()
        assert alice.get_nowait() is None and not events.subscribers


@contextlib.contextmanager
def idle_stream(service: str) -> Iterator[socket.socket]:
    """A client of GET /events (as alice) with a small receive buffer, that reads nothing."""
    url = urlsplit(service)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        client.connect((url.hostname, url.port))
        client.sendall(
            f"GET {url.path}events HTTP/1.1\r\nHost: {url.netloc}\r\n"
            "Authorization: token alice-token\r\n\r\n".encode()
        )
        yield client
    finally:
        client.close()


async def test_an_event_stream_that_is_never_read_is_dropped_and_closed(api, manager, monkeypatch):
    """A client opens GET /events and never reads: the kernel's buffers fill, the handler's
    writes stop draining, the queue fills up to its limit and the subscriber is dropped (bounded
    memory), and the stream ends."""
    monkeypatch.setattr(manager.events, "queue_limit", 3)
    monkeypatch.setattr(EventsHandler, "write_timeout", 0.5)
    with idle_stream(api.url) as client:
        await wait_until(lambda: manager.events.subscribers, message="the stream subscribed")
        big = "x" * (256 * 1024)
        published = 0

        def dropped() -> bool:
            nonlocal published
            manager.events.publish("alice", event(published, owner="alice", payload=big))
            published += 1
            return not manager.events.subscribers

        await wait_until(dropped, timeout=60, interval=0.01, message="the idle stream dropped")
        # what waits for it is bounded: the limit, the reconnect event and the end
        assert published < 200
        client.setblocking(False)
        loop = asyncio.get_running_loop()

        received = bytearray()

        async def ended() -> bool:
            """Read what was sent; True once the response has ended (its last chunk, after
            the reconnect event) or the server has closed the connection (it stopped reading
            altogether)."""
            try:
                while data := await asyncio.wait_for(loop.sock_recv(client, 1 << 20), 1):
                    received.extend(data)
                    if received.endswith(b"\r\n0\r\n\r\n"):
                        return b'"type": "reconnect"' in received
            except asyncio.TimeoutError:
                return False  # nothing more yet, and not closed
            except ConnectionResetError:
                pass
            return True

        await wait_until(ended, timeout=60, interval=0.05, message="the stream to end")


async def test_a_client_that_stops_reading_is_disconnected(api, manager, monkeypatch):
    """Before its queue fills: writes that do not drain for write_timeout end the stream."""
    monkeypatch.setattr(EventsHandler, "write_timeout", 0.5)
    with idle_stream(api.url):
        await wait_until(lambda: manager.events.subscribers, message="the stream subscribed")
        big = "x" * (1 << 20)
        for n in range(24):  # far more than the kernel's socket buffers hold
            manager.events.publish("alice", event(n, owner="alice", payload=big))
        await wait_until(
            lambda: not manager.events.subscribers, message="the stalled stream disconnected"
        )
        assert manager.events.queue_limit > 24, "the queue's limit played no part"
