"""The hub's flush: joined frame bytes straight to a sink that takes them, the writer task when it is paused."""

from __future__ import annotations

import asyncio

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame as WireFrame
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from exchange.streams.hub import Client, Frame, Hub, frame_header


class FakeSink:
    """A socket that records writes and can be paused like a transport over its high-water mark."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.open = True
        self.writable = asyncio.Event()
        self.writable.set()

    def can_write(self) -> bool:
        return self.open and self.writable.is_set()

    def write_frames(self, data: bytes) -> None:
        self.writes.append(data)

    async def wait_writable(self) -> bool:
        await self.writable.wait()
        return self.open


def frames(data: bytes) -> list[str]:
    """Parse server frames as a client does (the `websockets` client protocol), returning their texts."""
    client = ClientProtocol(parse_uri("ws://127.0.0.1/"), state=State.OPEN, max_size=None)
    client.receive_data(data)
    received = [frame for frame in client.events_received() if isinstance(frame, WireFrame)]
    assert all(frame.opcode is Opcode.TEXT and frame.fin for frame in received)
    assert client.parser_exc is None
    return [bytes(frame.data).decode() for frame in received]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 70_000])
def test_a_frame_is_what_a_client_parses_back(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)
    frame = Frame(text)
    assert frame.raw.startswith(frame_header(len(text.encode())))
    assert frames(frame.raw) == [text] and frame.size == len(text.encode())


def test_frames_of_one_turn_of_the_loop_reach_a_writable_sink_as_one_write_in_order() -> None:
    async def run() -> None:
        hub, sink = Hub(), FakeSink()
        client = Client(10_000, sink)
        for topic in ("depth.X_USDC", "trade.X_USDC"):
            hub.subscribe(client, topic)
        hub.publish("depth.X_USDC", "a")
        hub.publish("trade.X_USDC", "b")
        hub.send(client, "c")
        assert sink.writes == []
        await asyncio.sleep(0)
        assert [frames(write) for write in sink.writes] == [["a", "b", "c"]]
        assert not client.outbox and client.queued_bytes == 0

    asyncio.run(run())


def test_a_paused_sink_is_drained_by_the_writer_in_order_once_writable() -> None:
    async def run() -> None:
        hub, sink = Hub(), FakeSink()
        client = Client(10_000, sink)
        client.writer = asyncio.create_task(client.write(None))
        hub.subscribe(client, "depth.X_USDC")
        sink.writable.clear()
        for n in range(3):
            hub.publish("depth.X_USDC", str(n))
            await asyncio.sleep(0)
        assert sink.writes == [] and client.queued_bytes == 3
        sink.writable.set()
        hub.publish("depth.X_USDC", "3")
        for _ in range(3):
            await asyncio.sleep(0)
        assert frames(b"".join(sink.writes)) == ["0", "1", "2", "3"]
        assert not client.writer.done()
        sink.open = False
        sink.writable.clear()
        hub.publish("depth.X_USDC", "4")
        await asyncio.sleep(0)
        sink.writable.set()
        await asyncio.wait_for(client.writer, 1)

    asyncio.run(run())


def test_a_paused_sink_overflows_its_outbox_and_the_others_keep_their_frames() -> None:
    async def run() -> None:
        hub, stuck_sink, fast_sink = Hub(), FakeSink(), FakeSink()
        stuck, fast = Client(100, stuck_sink), Client(100, fast_sink)
        stuck.writer = asyncio.create_task(stuck.write(None))
        for client in (stuck, fast):
            hub.subscribe(client, "depth.X_USDC")
        stuck_sink.writable.clear()
        for n in range(30):
            hub.publish("depth.X_USDC", f"{n:010d}")
            await asyncio.sleep(0)
        assert stuck.overflowed and not stuck.outbox and stuck_sink.writes == []
        assert frames(b"".join(fast_sink.writes)) == [f"{n:010d}" for n in range(30)]
        await asyncio.sleep(0)
        assert stuck.writer.cancelled()

    asyncio.run(run())


def test_a_flush_stops_after_its_slice_and_finishes_in_a_later_turn() -> None:
    async def run() -> None:
        hub = Hub(slice_seconds=0.0)
        sinks = [FakeSink() for _ in range(3)]
        for sink in sinks:
            hub.subscribe(Client(100, sink), "depth.X_USDC")
        hub.publish("depth.X_USDC", "a")
        await asyncio.sleep(0)
        assert sum(len(sink.writes) for sink in sinks) == 1
        for _ in range(2):
            await asyncio.sleep(0)
        assert all(frames(b"".join(sink.writes)) == ["a"] for sink in sinks)

    asyncio.run(run())
