"""The adapter registry: every format adapter, found through entry points, by name.

Built-in adapters are loaded exactly like third-party ones, from the
``hashmatch.adapters`` entry-point group; the core never imports an adapter by name.
Two adapters that claim one ``NAME`` are refused.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib.metadata import entry_points

from hashmatch.adapter import HEAD_BYTES, FormatAdapter, Role
from hashmatch.errors import AdapterRegistryError, UnsupportedFormat

__all__ = ["ENTRY_POINT_GROUP", "AdapterRegistry", "default_registry"]

ENTRY_POINT_GROUP = "hashmatch.adapters"


class AdapterRegistry:
    """Adapters by name, and format detection over them."""

    def __init__(self, adapters: Iterable[type[FormatAdapter]] = ()) -> None:
        self._adapters: dict[str, type[FormatAdapter]] = {}
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
            if not (isinstance(loaded, type) and issubclass(loaded, FormatAdapter)):
                raise AdapterRegistryError(
                    f"adapter entry point {point.name!r} ({point.value}) is not a FormatAdapter"
                )
            if point.name != loaded.NAME:
                raise AdapterRegistryError(
                    f"adapter entry point {point.name!r} names an adapter called {loaded.NAME!r}"
                )
            registry.register(loaded)
        return registry

    def register(self, adapter: type[FormatAdapter]) -> None:
        """Add an adapter; a second adapter with the same ``NAME`` is refused."""
        name = getattr(adapter, "NAME", None)
        if not isinstance(name, str) or not name:
            raise AdapterRegistryError(f"{adapter.__qualname__} has no NAME")
        existing = self._adapters.get(name)
        if existing is not None and existing is not adapter:
            raise AdapterRegistryError(
                f"adapter name {name!r} is claimed by both {existing.__module__}."
                f"{existing.__qualname__} and {adapter.__module__}.{adapter.__qualname__}"
            )
        self._adapters[name] = adapter

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
