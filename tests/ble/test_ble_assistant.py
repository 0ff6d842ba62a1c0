"""The glasses in the assistant: mic source, paced sink with fallback, taps, display, pairing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from assistant import events as ev
from assistant.glasses import GlassesSession, GlassesSink, PairedGlasses
from assistant.glasses_cli import GlassesError, forget_bond, pair_glasses
from firmware_bridge.central import GlassesLink, LinkSettings
from firmware_bridge.profile import Codec, Gesture
from firmware_bridge.sim import VirtualRadio
from tests.unit.fakes import RecordingSink

FAST = LinkSettings(connect_timeout_s=1.0, hello_timeout_s=1.0, ack_timeout_s=0.2)


class FakeTurns:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def open_turn(self, trigger: str) -> None:
        self.calls.append(("open_turn", trigger))

    async def barge_in(self, by: str) -> None:
        self.calls.append(("barge_in", by))

    async def repeat_last(self, trigger: str) -> None:
        self.calls.append(("repeat_last", trigger))


async def _until(condition: Callable[[], bool], timeout_s: float = 3.0) -> None:
    """Poll: the virtual glasses record what they get, they do not signal it."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


class Rig:
    def __init__(self, radio: VirtualRadio, *, mic: str = "always") -> None:
        address = radio.glasses_address
        self.radio = radio
        self.link = GlassesLink(
            address, paired={address}, backend=radio.backends.client, settings=FAST
        )
        self.session = GlassesSession(self.link, fallback=RecordingSink(), mic=mic)
        self.source = self.session.source
        self.turns = FakeTurns()

    async def __aenter__(self) -> Rig:
        await self.session.start(self.turns)
        await self.link.wait_ready(2)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()


async def test_taps_open_turns_and_a_long_press_barges_in() -> None:
    async with VirtualRadio() as radio, Rig(radio) as rig:
        await radio.glasses.tap(Gesture.SINGLE)
        await radio.glasses.tap(Gesture.LONG)
        await radio.glasses.tap(Gesture.DOUBLE)
        await _until(lambda: len(rig.turns.calls) == 3)
    assert rig.turns.calls == [
        ("open_turn", "tap"),
        ("barge_in", "tap"),
        ("repeat_last", "double_tap"),
    ]


async def test_the_microphone_streams_from_every_connect_by_default() -> None:
    async with VirtualRadio() as radio, Rig(radio) as rig:
        await _until(lambda: radio.glasses.mic_on)
        rig.session.observe(ev.TurnStarted(t=0.0, trigger="tap"))
        rig.session.observe(ev.TurnEnded(t=1.0))
        await rig.link.drop()  # the glasses stop their microphone with the link
        await _until(lambda: radio.glasses.received.mic_starts == 2)
        await _until(lambda: radio.glasses.mic_on)
    assert radio.glasses.received.mic_stops == 0


async def test_tap_mode_streams_the_microphone_only_for_a_turn_and_its_follow_up() -> None:
    async with VirtualRadio() as radio, Rig(radio, mic="tap") as rig:
        glasses = radio.glasses
        await asyncio.sleep(0.2)
        assert not glasses.mic_on and glasses.received.mic_frames == 0

        await glasses.tap(Gesture.SINGLE)  # the microphone comes on before the turn opens
        await _until(lambda: glasses.mic_on)
        await _until(lambda: rig.turns.calls == [("open_turn", "tap")])
        rig.session.observe(ev.TurnStarted(t=0.0, trigger="tap"))
        rig.session.observe(ev.TurnEnded(t=1.0))
        rig.session.observe(ev.FollowUpOpened(t=1.0, seconds=4.0))  # no gap in between
        await asyncio.sleep(0.2)
        assert glasses.mic_on and glasses.received.mic_stops == 0

        rig.session.observe(ev.FollowUpClosed(t=5.0))
        await _until(lambda: not glasses.mic_on)
        frames = glasses.received.mic_frames
        await asyncio.sleep(0.2)
        assert glasses.received.mic_frames == frames  # resting

        # A turn the wake word opened on the host's side needs the microphone too; after a
        # reconnect it comes back only while a turn wants it.
        rig.session.observe(ev.TurnStarted(t=6.0, trigger="wake"))
        await _until(lambda: glasses.mic_on)
        await rig.link.drop()
        await _until(lambda: glasses.received.mic_starts == 3)
        rig.session.observe(ev.TurnEnded(t=7.0))
        await _until(lambda: not glasses.mic_on)
    assert glasses.received.mic_starts == 3 and glasses.received.mic_stops == 2


def test_an_unknown_microphone_mode_is_refused() -> None:
    link = GlassesLink("C0:5E:77:00:00:09", paired=set())
    with pytest.raises(ValueError, match="always"):
        GlassesSession(link, fallback=RecordingSink(), mic="sometimes")


async def test_transcript_reply_and_reminders_show_on_the_display() -> None:
    async with VirtualRadio() as radio, Rig(radio) as rig:
        rig.session.observe(ev.Transcript(t=0.0, text="what time is it", engine="fake"))
        rig.session.observe(ev.Reply(t=0.1, text="It's noon."))
        await _until(lambda: len(radio.glasses.received.pages) == 2)
        await rig.link.drop()  # a reminder falls due while the link is down
        rig.session.observe(
            ev.Notification(
                t=1.0, job_kind="reminder", job_id=1, text="call mum", due="2026-11-26T12:00"
            )
        )
        await _until(lambda: len(radio.glasses.received.pages) == 3)
    assert radio.glasses.received.texts == ["» what time is it", "It's noon.", "call mum"]
    assert len(radio.glasses.received.tones) == 1
    assert rig.link.stats.connects == 2


async def test_microphone_becomes_80_ms_chunks_with_positions() -> None:
    speech = (np.arange(16000) % 3000 - 1500).astype(np.int16)
    async with (
        VirtualRadio(mic=speech, realtime_mic=False, codecs=frozenset({Codec.PCM16})) as radio,
        Rig(radio) as rig,
    ):
        chunks = []
        async with asyncio.timeout(3):
            async for chunk in rig.source.chunks():
                chunks.append(chunk)
                if len(chunks) == 13:
                    break
    assert [c.start_s for c in chunks[:3]] == [0.0, 0.08, 0.16]
    assert all(len(c.pcm) == 1280 for c in chunks)
    assert np.array_equal(np.concatenate([c.pcm for c in chunks])[:16000], speech)


async def test_sink_sends_16k_audio_paced_and_falls_back_when_the_link_is_down() -> None:
    reply = (6000 * np.sin(np.arange(22050) / 5)).astype(np.int16)  # 1 s at 22.05 kHz
    fallback = RecordingSink()
    codecs = frozenset({Codec.PCM16, Codec.IMA_ADPCM})
    async with VirtualRadio(codecs=codecs) as radio, Rig(radio) as rig:
        sink = GlassesSink(rig.link, fallback)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await sink.play(reply, 22050)
        await sink.drain()
        took = loop.time() - started
        await _until(lambda: len(radio.glasses.received.speaker_pcm()) >= 16000)
        await sink.stop()
        await _until(lambda: radio.glasses.received.stops == 1)
        await rig.link.drop()
        await _until(lambda: not rig.link.is_ready)
        await sink.play(reply, 22050)
    assert 0.9 < took < 3.0  # paced like a speaker, not dumped at once
    assert abs(len(radio.glasses.received.speaker_pcm()) - 16000) <= 320
    assert [len(p) for p in fallback.played] == [22050] and fallback.stops == 1


async def test_pair_only_what_answers_a_scan(tmp_path: Path) -> None:
    store = PairedGlasses(tmp_path)
    async with VirtualRadio(bonded=False) as radio:
        radio.glasses.enter_pairing_mode()
        found = await pair_glasses(
            radio.glasses_address,
            store,
            timeout_s=0.2,
            scanner=radio.backends.scanner,
            client=radio.backends.client,
        )
        with pytest.raises(GlassesError):
            await pair_glasses(
                "C0:5E:77:00:00:42", store, timeout_s=0.2, scanner=radio.backends.scanner
            )
        # Bonded: the link comes up, over an encrypted connection.
        link = GlassesLink(
            found.address, paired=store.load(), backend=radio.backends.client, settings=FAST
        )
        await link.start()
        await link.wait_ready(2)
        assert radio.glasses.connection is not None and radio.glasses.connection.is_encrypted
        await link.close()
    assert found.name == "Sottovoce Glasses" and store.load() == {radio.glasses_address: found.name}
    assert not radio.glasses.pairing_mode  # a pairing ends pairing mode


async def test_glasses_not_in_pairing_mode_refuse_to_pair(tmp_path: Path) -> None:
    store = PairedGlasses(tmp_path)
    async with VirtualRadio(bonded=False) as radio:
        with pytest.raises(GlassesError, match="pairing mode") as caught:
            await pair_glasses(
                radio.glasses_address,
                store,
                timeout_s=0.2,
                scanner=radio.backends.scanner,
                client=radio.backends.client,
            )
    assert caught.value.code == "pairing_refused"
    assert store.load() == {}


async def test_forgetting_removes_the_hosts_bond(caplog: pytest.LogCaptureFixture) -> None:
    async with VirtualRadio() as radio:
        address = radio.glasses_address
        assert await forget_bond(address, backend=radio.backends.client) == ""
        assert await radio.host.keystore.get(address) is None  # type: ignore[union-attr]
        # Unbonded now, the host cannot drive the glasses even if an old list still names them.
        link = GlassesLink(address, paired={address}, backend=radio.backends.client, settings=FAST)
        await link.start()
        async with asyncio.timeout(3):
            while "refuse this host" not in caplog.text:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await link.close()
    assert radio.glasses.received.hellos == 0
