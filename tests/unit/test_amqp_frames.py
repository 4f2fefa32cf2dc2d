"""app.bus.amqp_batch.Framer builds the bytes pamqp (through aiormq's ChannelFrame)
marshals for the same publishes."""

from __future__ import annotations

import pytest
from aiormq.abc import ChannelFrame
from pamqp import commands as spec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from app.bus.amqp_batch import Framer, properties
from app.bus.message import FireMessage

MAX_BODY = 131_072 - 8  # aiormq: frame_max minus a frame's own bytes


def _pamqp(channel: int, routing_key: str, message_id: str, body: bytes, max_body: int) -> bytes:
    publish = spec.Basic.Publish(exchange="", routing_key=routing_key, mandatory=True)
    frames: list[object] = [
        publish,
        ContentHeader(properties=properties(message_id), body_size=len(body)),
    ]
    frames += [ContentBody(body[at : at + max_body]) for at in range(0, len(body), max_body)]
    return ChannelFrame.marshall(channel_number=channel, frames=frames).payload  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("channel", "routing_key", "message_id", "body"),
    [
        (
            1,
            "cronhook.fires",
            "fir_sch_0000000000000000000_abc",
            FireMessage("fir_1", "ten_1", 1, 5).encode(),
        ),
        (7, "q", "m", b"{}"),
        (65535, "a" * 255, "é-ü-" + "x" * 240, b"x" * 1000),  # longest routing key and id
        (2, "q", "id", b"x"),
        (2, "q", "id", b""),  # no body frame
        (2, "q", "", b"{}"),  # an empty id is left out of the properties
        (2, "q", "id", b"y" * (MAX_BODY - 1)),
        (2, "q", "id", b"y" * MAX_BODY),  # two body frames from here on
        (2, "q", "id", b"z" * (3 * MAX_BODY + 5)),
    ],
)
def test_frames_are_pamqps(channel: int, routing_key: str, message_id: str, body: bytes) -> None:
    framer = Framer(channel, routing_key, MAX_BODY)
    assert framer.frames(message_id, body) == _pamqp(
        channel, routing_key, message_id, body, MAX_BODY
    )


def test_a_chunk_of_messages_is_their_frames_in_order() -> None:
    msgs = [
        FireMessage(f"fir_{i:030d}", "ten_t", 1 + i % 3, 1000 * i, i % 2 == 0) for i in range(50)
    ]
    framer = Framer(3, "cronhook.fires", MAX_BODY)
    got = b"".join(framer.frames(m.fire_id, m.encode()) for m in msgs)
    want = b"".join(_pamqp(3, "cronhook.fires", m.fire_id, m.encode(), MAX_BODY) for m in msgs)
    assert got == want


def test_an_id_longer_than_a_short_string_is_refused_as_pamqp_refuses_it() -> None:
    with pytest.raises(TypeError):
        Framer(1, "q", MAX_BODY).frames("x" * 256, b"{}")
