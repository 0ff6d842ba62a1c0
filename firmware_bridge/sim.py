"""A whole virtual radio in one process: the host's controller and the glasses', on a LocalLink."""

from __future__ import annotations

import asyncio
from types import TracebackType

from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from firmware_bridge.bumble_backend import Backends, make_backends
from firmware_bridge.codecs import Pcm
from firmware_bridge.profile import Codec
from firmware_bridge.virtual import VirtualGlasses, pairing_config

HOST_ADDRESS = "C0:5E:77:00:00:01"
GLASSES_ADDRESS = "C0:5E:77:00:00:02"


def _device(link: LocalLink, address: str, name: str) -> Device:
    controller = Controller(name, link=link, public_address=address)
    device = Device(
        name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller))
    )
    device.random_address = Address(address)
    return device


class VirtualRadio:
    """`async with VirtualRadio() as radio:` then `radio.backends` for bleak, `radio.glasses`."""

    def __init__(
        self,
        *,
        mtu: int = 517,
        mic: Pcm | None = None,
        realtime_mic: bool = True,
        codecs: frozenset[Codec] | None = None,
        report_mtu_23: bool = False,
        glasses_address: str = GLASSES_ADDRESS,
        bonded: bool = True,
    ) -> None:
        """`bonded`: the host and the glasses paired before (a real SMP pairing at start)."""
        self.link = LocalLink()  # type: ignore[no-untyped-call]
        self.host = _device(self.link, HOST_ADDRESS, "sottovoce-host")
        self.host.pairing_config_factory = lambda _connection: pairing_config()
        self.bonded = bonded
        self.glasses = VirtualGlasses(
            _device(self.link, glasses_address, "virtual-glasses"),
            mic=mic,
            realtime_mic=realtime_mic,
            codecs=codecs,
        )
        self.backends: Backends = make_backends(self.host, mtu=mtu, report_mtu_23=report_mtu_23)

    @property
    def glasses_address(self) -> str:
        return self.glasses.address

    async def __aenter__(self) -> VirtualRadio:
        await self.host.power_on()
        await self.glasses.start()
        if self.bonded:
            await self.pair()
        return self

    async def pair(self) -> None:
        """Bond the host with the glasses, as `sottovoce glasses pair` does on a real radio."""
        self.glasses.enter_pairing_mode()
        async with asyncio.timeout(10.0):
            connection = await self.host.connect(Address(self.glasses_address), timeout=5.0)
            try:
                await connection.pair()
            finally:
                await connection.disconnect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.glasses.close()
