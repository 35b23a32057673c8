"""The adapter registry: every plug-in, found through entry points, by name.

Three kinds of plug-in share the ``hashmatch.adapters`` entry-point group: format adapters
(:class:`~hashmatch.adapter.FormatAdapter`), exchange clients
(:class:`~hashmatch.exchange.ExchangeClient`) and perceptual vendors
(:class:`~hashmatch.perceptual.PerceptualVendor`). Built-ins are loaded exactly like
third-party ones; the core never imports an adapter by name. Two plug-ins that claim one
``NAME`` are refused, whatever their kinds.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib.metadata import entry_points

from hashmatch.adapter import HEAD_BYTES, FormatAdapter, Role
from hashmatch.errors import AdapterRegistryError, ConfigurationError, UnsupportedFormat
from hashmatch.exchange import ExchangeClient
from hashmatch.perceptual import PerceptualVendor

__all__ = ["ENTRY_POINT_GROUP", "AdapterRegistry", "Plugin", "default_registry"]

ENTRY_POINT_GROUP = "hashmatch.adapters"

Plugin = type[FormatAdapter] | type[ExchangeClient] | type[PerceptualVendor]
"""What the registry holds."""
_KINDS = (FormatAdapter, ExchangeClient, PerceptualVendor)


class AdapterRegistry:
    """Plug-ins by name, and format detection over the format adapters."""

    def __init__(self, adapters: Iterable[Plugin] = ()) -> None:
        self._adapters: dict[str, type[FormatAdapter]] = {}
        self._exchanges: dict[str, type[ExchangeClient]] = {}
        self._vendors: dict[str, type[PerceptualVendor]] = {}
        for adapter in adapters:
            self.register(adapter)

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP) -> AdapterRegistry:
        """A registry of every adapter installed under ``group``."""
        registry = cls()
        for point in sorted(entry_points(group=group), key=lambda p: p.name):
            try:
                loaded = point.load()
            except Exception as exc:
                raise AdapterRegistryError(
                    f"adapter entry point {point.name!r} ({point.value}) failed to load: {exc}"
                ) from exc
            if not (isinstance(loaded, type) and issubclass(loaded, _KINDS)):
                raise AdapterRegistryError(
                    f"adapter entry point {point.name!r} ({point.value}) is not a "
                    "FormatAdapter, an ExchangeClient or a PerceptualVendor"
                )
            if point.name != loaded.NAME:
                raise AdapterRegistryError(
                    f"adapter entry point {point.name!r} names an adapter called {loaded.NAME!r}"
                )
            registry.register(loaded)
        return registry

    def register(self, adapter: Plugin) -> None:
        """Add a plug-in; a second one with the same ``NAME``, of any kind, is refused."""
        name = getattr(adapter, "NAME", None)
        if not isinstance(name, str) or not name:
            raise AdapterRegistryError(f"{adapter.__qualname__} has no NAME")
        existing: type | None = (
            self._adapters.get(name) or self._exchanges.get(name) or self._vendors.get(name)
        )
        if existing is not None and existing is not adapter:
            raise AdapterRegistryError(
                f"adapter name {name!r} is claimed by both {existing.__module__}."
                f"{existing.__qualname__} and {adapter.__module__}.{adapter.__qualname__}"
            )
        if issubclass(adapter, FormatAdapter):
            self._adapters[name] = adapter
        elif issubclass(adapter, ExchangeClient):
            self._exchanges[name] = adapter
        elif issubclass(adapter, PerceptualVendor):
            self._vendors[name] = adapter
        else:
            raise AdapterRegistryError(f"{adapter.__qualname__} is not a plug-in hashmatch knows")

    def plugin(self, name: str) -> Plugin:
        """The plug-in called ``name``, of whichever kind (UnsupportedFormat if none)."""
        found: Plugin | None = (
            self._adapters.get(name) or self._exchanges.get(name) or self._vendors.get(name)
        )
        if found is None:
            known = ", ".join(sorted([*self._adapters, *self._exchanges, *self._vendors]))
            raise UnsupportedFormat(f"no plug-in called {name!r} (known: {known or 'none'})")
        return found

    def exchanges(self) -> list[type[ExchangeClient]]:
        """Registered exchange clients, by name."""
        return [self._exchanges[name] for name in sorted(self._exchanges)]

    def exchange_names(self) -> list[str]:
        """Every exchange the clients offer, ``<client NAME>-<environment>``, sorted."""
        return sorted(
            f"{client.NAME}-{environment}"
            for client in self._exchanges.values()
            for environment in client.ENVIRONMENTS
        )

    def exchange(self, name: str) -> tuple[type[ExchangeClient], str]:
        """The client and environment of the exchange ``name`` (``ncmec-industry``)."""
        for client in self._exchanges.values():
            for environment in client.ENVIRONMENTS:
                if name == f"{client.NAME}-{environment}":
                    return client, environment
        known = ", ".join(self.exchange_names()) or "none installed"
        raise ConfigurationError(f"unknown exchange {name!r} (known: {known})")

    def vendors(self) -> list[type[PerceptualVendor]]:
        """Registered perceptual vendors, by name."""
        return [self._vendors[name] for name in sorted(self._vendors)]

    def vendor(self, name: str) -> type[PerceptualVendor]:
        """The perceptual vendor called ``name``."""
        try:
            return self._vendors[name]
        except KeyError:
            known = ", ".join(sorted(self._vendors)) or "none installed"
            raise ConfigurationError(
                f"unknown perceptual vendor {name!r} (known: {known})"
            ) from None

    def names(self, role: Role | None = None) -> list[str]:
        """Registered names, sorted; only those serving ``role`` if given."""
        return sorted(n for n, a in self._adapters.items() if role is None or role in a.ROLES)

    def adapters(self, role: Role | None = None) -> list[type[FormatAdapter]]:
        """Registered adapters in detection order (``PRIORITY``, then name)."""
        chosen = [a for a in self._adapters.values() if role is None or role in a.ROLES]
        return sorted(chosen, key=lambda a: (a.PRIORITY, a.NAME))

    def get(self, name: str) -> type[FormatAdapter]:
        """The adapter called ``name``."""
        try:
            return self._adapters[name]
        except KeyError:
            known = ", ".join(self.names()) or "none installed"
            raise UnsupportedFormat(f"unknown format {name!r} (known: {known})") from None

    def detect(
        self, head: bytes, *, role: Role | None = None, source: str | None = None
    ) -> type[FormatAdapter]:
        """The first adapter, in detection order, whose ``sniff`` accepts ``head``."""
        head = head[:HEAD_BYTES]
        for adapter in self.adapters(role):
            try:
                if adapter.sniff(head):
                    return adapter
            except Exception:
                continue
        if not head.strip():
            raise UnsupportedFormat("the file is empty", source=source)
        known = ", ".join(self.names(role))
        raise UnsupportedFormat(
            f"format not recognised (known: {known}); name one with --format", source=source
        )


@functools.cache
def default_registry() -> AdapterRegistry:
    """The registry of installed adapters, loaded once per process."""
    return AdapterRegistry.from_entry_points()
