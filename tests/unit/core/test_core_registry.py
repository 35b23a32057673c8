"""hashmatch.registry: adapters by name, detection order, and loading through entry points."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator, Mapping
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import BinaryIO, ClassVar

import pyarrow as pa
import pytest

from hashmatch.adapter import HEAD_BYTES, FormatAdapter, ReadContext, Role
from hashmatch.errors import AdapterRegistryError, ConfigurationError, UnsupportedFormat
from hashmatch.exchange import ExchangeClient, ExchangePage
from hashmatch.perceptual import PerceptualVendor
from hashmatch.registry import ENTRY_POINT_GROUP, AdapterRegistry, default_registry


class _Stub(FormatAdapter):
    """An adapter that reads nothing; subclasses say what they sniff."""

    DESCRIPTION: ClassVar[str] = "test stub"
    MARK: ClassVar[bytes] = b""

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.startswith(cls.MARK)

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        yield from ()


class Alpha(_Stub):
    NAME = "alpha"
    MARK = b"A"


class Beta(_Stub):
    NAME = "beta"
    MARK = b"A"  # claims the same files as alpha; alpha wins on name
    ROLES = frozenset({Role.LIST})


class Specific(_Stub):
    NAME = "zz-specific"
    MARK = b"AB"
    PRIORITY = 10  # tried before the generic ones despite its name


class Broken(_Stub):
    NAME = "broken"
    PRIORITY = 0

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        raise RuntimeError("a sniff that fails")


class Anything(_Stub):
    NAME = "anything"
    PRIORITY = 1000
    MARK = b""
    ROLES = frozenset({Role.MANIFEST})


class AlphaImpostor(_Stub):
    NAME = "alpha"


class Nameless(_Stub):
    pass


class EmptyName(_Stub):
    NAME = ""


# -- registration -------------------------------------------------------------------------


def test_two_adapters_with_one_name_are_refused() -> None:
    registry = AdapterRegistry([Alpha])
    with pytest.raises(AdapterRegistryError) as caught:
        registry.register(AlphaImpostor)
    message = str(caught.value)
    assert "'alpha'" in message
    assert f"{__name__}.Alpha" in message
    assert f"{__name__}.AlphaImpostor" in message
    assert registry.get("alpha") is Alpha


def test_the_constructor_refuses_duplicates_too() -> None:
    with pytest.raises(AdapterRegistryError):
        AdapterRegistry([Alpha, AlphaImpostor])


def test_registering_the_same_adapter_twice_is_harmless() -> None:
    registry = AdapterRegistry([Alpha])
    registry.register(Alpha)
    assert registry.names() == ["alpha"]


@pytest.mark.parametrize("adapter", [Nameless, EmptyName])
def test_an_adapter_without_a_name_is_refused(adapter: type[FormatAdapter]) -> None:
    with pytest.raises(AdapterRegistryError, match=f"{adapter.__qualname__} has no NAME"):
        AdapterRegistry([adapter])


def test_get_an_unknown_name_lists_the_known_ones() -> None:
    registry = AdapterRegistry([Beta, Alpha])
    with pytest.raises(UnsupportedFormat) as caught:
        registry.get("gamma")
    assert caught.value.reason == "unknown format 'gamma' (known: alpha, beta)"
    with pytest.raises(UnsupportedFormat, match=r"\(known: none installed\)"):
        AdapterRegistry().get("alpha")


def test_names_and_adapters_filter_by_role() -> None:
    registry = AdapterRegistry([Anything, Beta, Alpha])
    assert registry.names() == ["alpha", "anything", "beta"]
    assert registry.names(Role.LIST) == ["alpha", "beta"]
    assert registry.names(Role.MANIFEST) == ["alpha", "anything"]
    assert registry.adapters(Role.LIST) == [Alpha, Beta]


# -- detection ------------------------------------------------------------------------------


def test_detect_tries_priority_then_name() -> None:
    registry = AdapterRegistry([Beta, Alpha, Specific, Anything])
    assert registry.adapters() == [Specific, Alpha, Beta, Anything]
    assert registry.detect(b"ABC") is Specific
    assert registry.detect(b"AC") is Alpha
    assert registry.detect(b"AC", role=Role.LIST) is Alpha
    assert registry.detect(b"C") is Anything


def test_detect_honours_the_role() -> None:
    registry = AdapterRegistry([Beta, Anything])
    assert registry.detect(b"A", role=Role.LIST) is Beta
    assert registry.detect(b"A", role=Role.MANIFEST) is Anything


def test_a_sniff_that_raises_means_no() -> None:
    registry = AdapterRegistry([Broken, Alpha])
    assert registry.detect(b"A") is Alpha
    with pytest.raises(UnsupportedFormat):
        AdapterRegistry([Broken]).detect(b"A")


def test_sniff_sees_at_most_the_head() -> None:
    seen: list[int] = []

    class Measuring(_Stub):
        NAME = "measuring"

        @classmethod
        def sniff(cls, head: bytes) -> bool:
            seen.append(len(head))
            return True

    AdapterRegistry([Measuring]).detect(b"x" * (HEAD_BYTES + 10))
    assert seen == [HEAD_BYTES]


@pytest.mark.parametrize("head", [b"", b"   \r\n\t"])
def test_an_empty_file_is_said_to_be_empty(head: bytes) -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        AdapterRegistry([Alpha, Specific]).detect(head, source="case.txt")
    assert caught.value.reason == "the file is empty"
    assert str(caught.value) == "case.txt: the file is empty"


def test_an_unrecognised_file_names_the_formats_for_its_role() -> None:
    registry = AdapterRegistry([Alpha, Beta, Specific])
    with pytest.raises(UnsupportedFormat) as caught:
        registry.detect(b"Q", role=Role.LIST, source="m.txt")
    assert caught.value.reason == (
        "format not recognised (known: alpha, beta, zz-specific); name one with --format"
    )
    assert caught.value.source == "m.txt"


# -- entry points ---------------------------------------------------------------------------


def test_the_default_registry_holds_the_built_in_adapters() -> None:
    registry = default_registry()
    assert {"md5sum", "hashdeep", "bare", "csv"} <= set(registry.names())
    assert default_registry() is registry  # loaded once per process


def test_built_in_adapters_come_through_the_entry_point_group() -> None:
    installed = {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)}
    assert {"md5sum", "hashdeep", "bare", "csv"} <= set(installed)
    registry = AdapterRegistry.from_entry_points()
    every = [
        *registry.names(),
        *(client.NAME for client in registry.exchanges()),
        *(vendor.NAME for vendor in registry.vendors()),
    ]
    assert sorted(every) == sorted(installed)
    for name, value in installed.items():
        plugin = registry.plugin(name)
        assert f"{plugin.__module__}:{plugin.__qualname__}" == value
        assert name == plugin.NAME
    assert "ncmec" in {client.NAME for client in registry.exchanges()}
    assert "ncmec-industry" in registry.exchange_names()


class _Exchange(ExchangeClient):
    NAME = "alpha"
    DESCRIPTION = "a made-up exchange"
    ENVIRONMENTS: ClassVar[Mapping[str, str]] = {
        "live": "https://exchange.invalid/api",
        "test": "https://test.exchange.invalid/api",
    }

    def fetch(
        self, *, since: datetime | None, until: datetime, resume: Mapping[str, str] | None = None
    ) -> Iterator[ExchangePage]:
        return iter(())


class _Vendor(PerceptualVendor):
    NAME = "vendor-x"
    DESCRIPTION = "a made-up vendor"

    @property
    def version(self) -> str:
        return "x/1"

    def compute(self, path: Path) -> str | None:
        return None


def test_exchanges_and_vendors_are_kept_apart_from_formats() -> None:
    registry = AdapterRegistry([Beta, _Exchange, _Vendor])
    assert registry.names() == ["beta"]
    assert registry.exchanges() == [_Exchange]
    assert registry.exchange_names() == ["alpha-live", "alpha-test"]
    assert registry.exchange("alpha-test") == (_Exchange, "test")
    assert registry.vendors() == [_Vendor]
    assert registry.vendor("vendor-x") is _Vendor
    assert registry.plugin("vendor-x") is _Vendor
    with pytest.raises(UnsupportedFormat, match="unknown format 'vendor-x'"):
        registry.get("vendor-x")


def test_unknown_exchanges_and_vendors_name_the_known_ones() -> None:
    registry = AdapterRegistry([_Exchange, _Vendor])
    with pytest.raises(ConfigurationError, match=r"unknown exchange 'alpha'.*alpha-live"):
        registry.exchange("alpha")
    with pytest.raises(ConfigurationError, match=r"unknown perceptual vendor 'y'.*vendor-x"):
        registry.vendor("y")
    with pytest.raises(UnsupportedFormat, match="no plug-in called 'y'"):
        registry.plugin("y")


def test_one_name_is_refused_across_kinds() -> None:
    class Clash(_Vendor):
        NAME = "alpha"

    with pytest.raises(AdapterRegistryError, match="claimed by both"):
        AdapterRegistry([Alpha, Clash])


def test_a_class_of_no_plug_in_kind_is_refused() -> None:
    class Stray:
        NAME = "stray"

    with pytest.raises(AdapterRegistryError, match="not a plug-in"):
        AdapterRegistry().register(Stray)  # type: ignore[arg-type]


def test_a_group_with_no_entries_gives_an_empty_registry() -> None:
    registry = AdapterRegistry.from_entry_points("hashmatch.tests.no-such-group")
    assert registry.names() == []


@pytest.fixture
def fake_group(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """Entry points of a made-up group, pointing into a module that exists only in memory."""
    module = types.ModuleType("hashmatch_test_fake_adapters")
    module.Alpha = Alpha  # type: ignore[attr-defined]
    module.Beta = Beta  # type: ignore[attr-defined]
    module.NotAnAdapter = dict  # type: ignore[attr-defined]
    module.not_a_class = 42  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    points: list[EntryPoint] = []

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        assert group == "fake.group"
        return points

    monkeypatch.setattr("hashmatch.registry.entry_points", fake_entry_points)
    return points


def _point(name: str, attr: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"hashmatch_test_fake_adapters:{attr}", group="fake.group")


def test_entry_points_load_in_name_order(fake_group: list[EntryPoint]) -> None:
    fake_group.extend([_point("beta", "Beta"), _point("alpha", "Alpha")])
    registry = AdapterRegistry.from_entry_points("fake.group")
    assert registry.adapters() == [Alpha, Beta]


def test_an_entry_point_that_fails_to_load_is_named(fake_group: list[EntryPoint]) -> None:
    fake_group.append(_point("gamma", "Missing"))
    with pytest.raises(AdapterRegistryError, match=r"adapter entry point 'gamma' \(.*\) failed"):
        AdapterRegistry.from_entry_points("fake.group")


@pytest.mark.parametrize("attr", ["NotAnAdapter", "not_a_class"])
def test_an_entry_point_that_is_not_an_adapter_is_refused(
    fake_group: list[EntryPoint], attr: str
) -> None:
    fake_group.append(_point("alpha", attr))
    with pytest.raises(AdapterRegistryError, match="is not a FormatAdapter"):
        AdapterRegistry.from_entry_points("fake.group")


def test_an_entry_point_must_be_named_after_its_adapter(fake_group: list[EntryPoint]) -> None:
    fake_group.append(_point("alias", "Alpha"))
    with pytest.raises(AdapterRegistryError) as caught:
        AdapterRegistry.from_entry_points("fake.group")
    assert caught.value.reason == "adapter entry point 'alias' names an adapter called 'alpha'"


def test_two_entry_points_claiming_one_name_are_refused(fake_group: list[EntryPoint]) -> None:
    module = sys.modules["hashmatch_test_fake_adapters"]
    module.Impostor = AlphaImpostor  # type: ignore[attr-defined]
    fake_group.extend([_point("alpha", "Alpha"), _point("alpha", "Impostor")])
    with pytest.raises(AdapterRegistryError, match="claimed by both"):
        AdapterRegistry.from_entry_points("fake.group")
