"""A bleak backend on Google's bumble stack: bleak's real client code over virtual controllers.

`make_backends(device)` binds a powered-on bumble `Device` (the host's controller) into a
client and a scanner class that `BleakClient(..., backend=...)` and
`BleakScanner(..., backend=...)` accept. Used by the tests, the benchmark and
`sottovoce glasses simulate`; production code never imports this module.

bumble traps handled here: a connect to an absent device never returns (bounded by the client
timeout, then the pending connection is cancelled); the MTU is exchanged after connecting, as
BlueZ and CoreBluetooth do on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str
from bumble import core, gatt, gatt_client, hci
from bumble.device import Advertisement, Connection, Device, Peer

_LOGGER = logging.getLogger(__name__)

_PROPERTIES: dict[int, CharacteristicPropertyName] = {
    gatt.Characteristic.Properties.BROADCAST: "broadcast",
    gatt.Characteristic.Properties.READ: "read",
    gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    gatt.Characteristic.Properties.WRITE: "write",
    gatt.Characteristic.Properties.NOTIFY: "notify",
    gatt.Characteristic.Properties.INDICATE: "indicate",
}


def _uuid(value: core.UUID) -> str:
    return normalize_uuid_str(value.to_hex_str("-").lower())


class BumbleClient(BaseBleakClient):
    """Subclassed by `make_backends`, which binds `device` (bleak builds the instances)."""

    device: ClassVar[Device]
    preferred_mtu: ClassVar[int] = 517
    report_mtu_23: ClassVar[bool] = False  # mimic BlueZ, whose mtu_size reads 23 unless acquired

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.get("disconnected_callback"),
            timeout=float(kwargs.get("timeout", 10.0)),
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        if self._connection is None or self.report_mtu_23:
            return 23
        return int(self._connection.att_mtu)

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                connection = await self.device.connect(hci.Address(self.address), timeout=None)
        except TimeoutError as err:
            await self._cancel_pending_connection()
            raise BleakError(f"no connection to {self.address} within {self._timeout:g} s") from err
        except asyncio.CancelledError:
            # Left pending, it would make the controller refuse the next connect.
            await asyncio.shield(self._cancel_pending_connection())
            raise
        except core.BaseBumbleError as err:
            raise BleakError(f"connecting to {self.address} failed: {err}") from err
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            async with asyncio.timeout(self._timeout):
                if await self._bonded(connection):
                    # A bonded peer: encrypt with the stored key at once, as BlueZ and
                    # CoreBluetooth do, so protected characteristics just work.
                    try:
                        await connection.encrypt()
                    except core.BaseBumbleError as err:  # the peer lost its key for us
                        raise BleakError(f"encrypting the link failed: {err}") from err
                self._peer = Peer(connection)
                if self.preferred_mtu > 23:
                    await self._peer.request_mtu(self.preferred_mtu)
                self.services = await self._discover(self._peer, connection)
        except BleakError:
            await self.disconnect()
            raise
        except (TimeoutError, core.BaseBumbleError) as err:
            await self.disconnect()
            raise BleakError(f"GATT discovery on {self.address} failed: {err}") from err
        except asyncio.CancelledError:
            await asyncio.shield(self.disconnect())  # never leave a half-made link behind
            raise

    async def _cancel_pending_connection(self) -> None:
        with contextlib.suppress(Exception):  # best effort: the attempt may have ended
            await self.device.cancel_connection()  # type: ignore[no-untyped-call]

    def _on_disconnection(self, reason: int) -> None:
        _LOGGER.debug("bumble link to %s down (reason 0x%02x)", self.address, reason)
        self._connection = None
        self._peer = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def _discover(self, peer: Peer, connection: Connection) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        await peer.discover_services()
        for service in peer.services:
            await service.discover_characteristics()
            ours = BleakGATTService(service, service.handle, _uuid(service.uuid))
            collection.add_service(ours)
            for char in service.characteristics:
                await peer.discover_descriptors(char)
                props = [name for bit, name in _PROPERTIES.items() if char.properties & bit]
                bleak_char = BleakGATTCharacteristic(
                    char, char.handle, _uuid(char.uuid), props, _max_write(connection), ours
                )
                collection.add_characteristic(bleak_char)
                for desc in char.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(desc, desc.handle, _uuid(desc.type), bleak_char)
                    )
        return collection

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        with contextlib.suppress(Exception):  # best effort: the link may be gone
            async with asyncio.timeout(self._timeout):
                await connection.disconnect()
        self._connection = None
        self._peer = None

    async def _bonded(self, connection: Connection) -> bool:
        keystore = self.device.keystore
        return keystore is not None and await keystore.get(str(connection.peer_address)) is not None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """SMP pairing with bonding over the open connection (keys go to the device's store)."""
        if self._connection is None:
            raise BleakError("Not connected")
        try:
            async with asyncio.timeout(self._timeout):
                await self._connection.pair()
        except (TimeoutError, core.BaseBumbleError) as err:
            raise BleakError(f"pairing with {self.address} failed: {err}") from err

    async def unpair(self) -> None:
        keystore = self.device.keystore
        if keystore is not None:
            with contextlib.suppress(KeyError):
                await keystore.delete(self.address)

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        try:
            return bytearray(await self._require_peer().read_value(characteristic.handle))
        except core.BaseBumbleError as err:
            raise BleakError(f"read of {characteristic.uuid} failed: {err}") from err

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._require_peer().read_value(descriptor.handle))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        value = bytes(cast(bytes, data))
        if not response and len(value) > 512:
            raise BleakError(f"write command of {len(value)} bytes: bumble drops over 512")
        try:
            await self._require_peer().write_value(characteristic.handle, value, response)
        except core.BaseBumbleError as err:
            raise BleakError(f"write to {characteristic.uuid} failed: {err}") from err

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        await self._require_peer().write_value(descriptor.handle, bytes(cast(bytes, data)), True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        proxy = cast(gatt_client.CharacteristicProxy[bytes], characteristic.obj)

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        await self._require_peer().subscribe(proxy, on_value)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        proxy = cast(gatt_client.CharacteristicProxy[bytes], characteristic.obj)
        await self._require_peer().unsubscribe(proxy)


def _max_write(connection: Connection) -> Callable[[], int]:
    return lambda: int(connection.att_mtu) - 3


class BumbleScanner(BaseBleakScanner):
    device: ClassVar[Device]

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._active = scanning_mode == "active"

    async def start(self) -> None:
        self.seen_devices = {}
        self.device.on(self.device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await self.device.start_scanning(active=self._active, filter_duplicates=False)

    async def stop(self) -> None:
        self.device.remove_listener(self.device.EVENT_ADVERTISEMENT, self._on_advertisement)
        with contextlib.suppress(Exception):  # best effort: the link may be gone
            await self.device.stop_scanning()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        data = advertisement.data
        uuids = [
            _uuid(u)
            for kind in (
                core.AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                core.AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                core.AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            )
            for u in cast(list[core.UUID], data.get(kind) or [])
        ]
        if not self.is_allowed_uuid(uuids):
            return
        name = data.get(core.AdvertisingData.COMPLETE_LOCAL_NAME)
        local_name = name if isinstance(name, str) else None
        address = str(advertisement.address).split("/")[0]
        adv = AdvertisementData(
            local_name=local_name,
            manufacturer_data={},
            service_data={},
            service_uuids=uuids,
            tx_power=None,
            rssi=int(advertisement.rssi),
            platform_data=(advertisement,),
        )
        device = self.create_or_update_device(address, address, local_name, advertisement, adv)
        self.call_detection_callbacks(device, adv)


@dataclass(frozen=True, slots=True)
class Backends:
    client: type[BaseBleakClient]
    scanner: type[BaseBleakScanner]


def make_backends(device: Device, *, mtu: int = 517, report_mtu_23: bool = False) -> Backends:
    """Client and scanner classes bound to `device`, asking for `mtu` after each connect."""

    class Client(BumbleClient):
        pass

    class Scanner(BumbleScanner):
        pass

    Client.device = device
    Client.preferred_mtu = mtu
    Client.report_mtu_23 = report_mtu_23
    Scanner.device = device
    return Backends(client=Client, scanner=Scanner)
