"""Bleak on bumble against the virtual glasses: connect, MTU, order, drops, pairing."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from bleak import BleakClient
from bleak.exc import BleakError

from firmware_bridge.central import (
    Battery,
    GlassesLink,
    LinkSettings,
    LinkUp,
    MicAudio,
    Tapped,
    scan,
)
from firmware_bridge.codecs import Pcm
from firmware_bridge.errors import ConnectTimeout, NotPairedError
from firmware_bridge.messages import paginate
from firmware_bridge.profile import BATTERY_LEVEL_UUID, COMMAND_UUID, Codec, Gesture
from firmware_bridge.sim import VirtualRadio

FAST = LinkSettings(connect_timeout_s=1.0, hello_timeout_s=1.0, ack_timeout_s=0.2)
# A slow backoff (0.5 s, then 1 s), for tests that close a link its glasses refuse and then
# connect again: closed right after a refusal, the link is asleep, never mid-connect (bumble's
# LocalLink can lose the next connect after one cancelled half-way).
PATIENT = LinkSettings(
    connect_timeout_s=1.0, hello_timeout_s=1.0, ack_timeout_s=0.2, backoff_initial_s=0.5
)


def _link(radio: VirtualRadio, settings: LinkSettings = FAST, **kwargs: object) -> GlassesLink:
    return GlassesLink(
        radio.glasses_address,
        paired={radio.glasses_address},
        backend=radio.backends.client,
        settings=settings,
        **kwargs,  # type: ignore[arg-type]
    )


async def _next(link: GlassesLink, kind: type, timeout_s: float = 2.0) -> object:
    async with asyncio.timeout(timeout_s):
        while True:
            event = await link.events.get()
            if isinstance(event, kind):
                return event


async def test_bleak_reads_the_standard_services_and_sees_the_mtu() -> None:
    async with (
        VirtualRadio(mtu=185) as radio,
        BleakClient(radio.glasses_address, backend=radio.backends.client, timeout=2.0) as client,
    ):
        battery = await client.read_gatt_char(BATTERY_LEVEL_UUID)
        model = await client.read_gatt_char("00002a24-0000-1000-8000-00805f9b34fb")
        command = client.services.get_characteristic(COMMAND_UUID)
        assert command is not None
        assert client.mtu_size == 185 and command.max_write_without_response_size == 182
        assert {"write", "write-without-response"} <= set(command.properties)
    assert battery == bytearray([80]) and model == bytearray(b"virtual-glasses")


async def test_scan_finds_the_glasses_by_service() -> None:
    async with VirtualRadio() as radio:
        found = await scan(0.2, backend=radio.backends.scanner)
    assert [(g.address, g.name) for g in found] == [(radio.glasses_address, "Sottovoce Glasses")]


@pytest.mark.parametrize("mtu", [23, 185, 517])
async def test_connect_negotiates_mtu_and_says_hello(mtu: int) -> None:
    async with VirtualRadio(mtu=mtu) as radio:
        link = _link(radio)
        await link.start()
        try:
            up = await _next(link, LinkUp)
            assert isinstance(up, LinkUp) and up.hello.mtu == mtu
            assert up.codec in up.hello.codecs
            battery = await _next(link, Battery)
            assert battery == Battery(percent=80, charging=False)
        finally:
            await link.close()


async def test_fragments_follow_the_characteristic_not_the_bluez_mtu_quirk() -> None:
    async with VirtualRadio(mtu=247, report_mtu_23=True) as radio:
        link = _link(radio)
        await link.start()
        await _next(link, Battery)  # the handshake's last ack has gone out
        await asyncio.sleep(0.05)
        before = radio.glasses.fragments_in
        await link.display("x" * 90)
        await link.close()
    # 90 bytes in one 244-byte fragment, where a 20-byte fragment size would take 8
    assert radio.glasses.fragments_in - before == 1


def _ramp(n: int) -> Pcm:
    return (np.arange(n) % 2000 - 1000).astype(np.int16)


async def test_microphone_frames_arrive_in_order_and_complete() -> None:
    mic = _ramp(16000)
    async with VirtualRadio(
        mtu=185, mic=mic, realtime_mic=False, codecs=frozenset({Codec.PCM16})
    ) as radio:
        link = _link(radio)
        await link.start()
        await link.wait_ready(2)
        await link.mic_start()
        got: list[Pcm] = []
        while sum(map(len, got)) < len(mic):
            event = await _next(link, MicAudio)
            assert isinstance(event, MicAudio)
            got.append(event.pcm)
        await link.mic_stop()
        await link.close()
    assert np.array_equal(np.concatenate(got)[: len(mic)], mic)
    assert link.stats.mic_gaps == 0


async def test_link_dropped_mid_message_reconnects_and_delivers_exactly_once() -> None:
    async with VirtualRadio(mtu=23) as radio:
        link = _link(radio)
        await link.start()
        await link.wait_ready(2)
        radio.glasses.drop_after_fragments = 3  # the text takes ~20 fragments at MTU 23
        text = "The quick brown fox jumps over the lazy dog; sphinx of black quartz."
        started = time.perf_counter()
        await asyncio.wait_for(link.display(text), 5)
        elapsed = time.perf_counter() - started
        await link.close()
    assert radio.glasses.received.texts == paginate(text, 24, 4)  # once, not twice
    assert link.stats.connects == 2 and link.stats.drops == 1
    assert link.stats.last_reconnect_s is not None and link.stats.last_reconnect_s < 2.0
    assert elapsed < 2.0


async def test_a_tap_while_disconnected_arrives_once_after_reconnect() -> None:
    async with VirtualRadio() as radio:
        link = _link(radio)
        await link.start()
        await link.wait_ready(2)
        await link.drop()
        tap = asyncio.create_task(radio.glasses.tap(Gesture.DOUBLE))
        event = await _next(link, Tapped, 3.0)
        await tap
        await asyncio.sleep(0.3)  # room for a wrongly repeated delivery to show up
        assert event == Tapped(gesture=Gesture.DOUBLE, button=False)
        assert not any(isinstance(e, Tapped) for e in _drain(link))
        await link.close()


def _drain(link: GlassesLink) -> list[object]:
    out: list[object] = []
    while not link.events.empty():
        out.append(link.events.get_nowait())
    return out


async def test_unpaired_glasses_are_refused() -> None:
    async with VirtualRadio() as radio:
        link = GlassesLink(radio.glasses_address, paired=set(), backend=radio.backends.client)
        with pytest.raises(NotPairedError):
            await link.start()
    assert radio.glasses.received.hellos == 0


async def test_glasses_refuse_a_host_they_have_no_bond_with(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On the allow-list but never bonded (or the glasses were reset): the glasses refuse
    every command write, the host says how to fix it and keeps the link down."""
    async with VirtualRadio(bonded=False) as radio:
        link = _link(radio, PATIENT)  # closed while backing off, not mid-connect
        await link.start()
        with pytest.raises(ConnectTimeout):
            await link.wait_ready(1.0)
        await link.close()
        client = BleakClient(radio.glasses_address, backend=radio.backends.client)
        await client.connect()
        with pytest.raises(BleakError, match="INSUFFICIENT_ENCRYPTION"):
            await client.write_gatt_char(COMMAND_UUID, b"\x00" * 8, response=True)
        await client.disconnect()
    assert radio.glasses.received.hellos == 0 and radio.glasses.fragments_in == 0
    assert "sottovoce glasses pair" in caplog.text


async def test_after_the_glasses_forget_their_bonds_the_host_must_pair_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with VirtualRadio() as radio:
        link = _link(radio, PATIENT)
        await link.start()
        await link.wait_ready(2)
        await radio.glasses.forget_hosts()
        await radio.glasses.drop_link()
        async with asyncio.timeout(3):
            while "refuse this host" not in caplog.text:  # noqa: ASYNC110
                await asyncio.sleep(0.02)  # the stored key no longer encrypts the link
        assert not link.is_ready
        await link.close()
        await radio.pair()  # pairing again brings it back
        again = _link(radio)
        await again.start()
        await again.wait_ready(3)
        await again.close()


async def test_absent_glasses_time_out_instead_of_hanging() -> None:
    async with VirtualRadio() as radio:
        absent = "C0:5E:77:00:00:99"
        link = GlassesLink(absent, paired={absent}, backend=radio.backends.client, settings=FAST)
        await link.start()
        started = time.perf_counter()
        with pytest.raises(ConnectTimeout):
            await link.wait_ready(1.5)
        await link.close()
    assert time.perf_counter() - started < 3


async def test_reply_audio_reaches_the_speaker() -> None:
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16000)).astype(np.int16)
    async with VirtualRadio(codecs=frozenset({Codec.PCM16, Codec.IMA_ADPCM})) as radio:
        link = _link(radio)
        await link.start()
        await link.wait_ready(2)
        assert link.codec == Codec.IMA_ADPCM
        sent = await link.play(tone, last=True)
        await asyncio.sleep(0.2)
        await link.stop_audio()
        await link.close()
    heard = radio.glasses.received.speaker_pcm()
    assert sent == 25 and len(heard) == 8000
    assert np.corrcoef(heard.astype(float), tone.astype(float))[0, 1] > 0.99
    assert radio.glasses.received.stops == 1


async def test_silent_glasses_are_dropped_by_the_heartbeat_and_reconnected() -> None:
    quick = LinkSettings(
        connect_timeout_s=1.0, hello_timeout_s=1.0, ack_timeout_s=0.2, heartbeat_s=0.1
    )
    async with VirtualRadio() as radio:
        link = _link(radio, quick)
        await link.start()
        await link.wait_ready(2)
        radio.glasses.go_silent()
        async with asyncio.timeout(3):
            while link.stats.connects < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await link.close()
    assert link.stats.heartbeats_missed == 1


async def test_garbage_from_the_glasses_is_nacked_and_the_link_stays_up() -> None:
    async with VirtualRadio() as radio:
        link = _link(radio)
        await link.start()
        await link.wait_ready(2)
        for junk in (
            b"",
            b"\x01",
            b"\xff" * 30,
            bytes(8),
            b"\x22\x01\x09\x00\x02\x00\x00\x00\xff\x07",
        ):
            await radio.glasses.send_raw(junk)
        await radio.glasses.tap()
        event = await _next(link, Tapped)
        await link.close()
    assert event == Tapped(gesture=Gesture.SINGLE, button=False)
    assert link.endpoint.counters.nacks_sent >= 4 and link.stats.drops == 0
