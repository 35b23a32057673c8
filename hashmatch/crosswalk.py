"""Crosswalks: versioned tables that suggest one category scheme's code for another's.

A match carries its source's labels verbatim (:mod:`hashmatch.labels`). A user who wants to
read them in another scheme (``hashmatch check --map-to uk``) applies a crosswalk: a small
JSON file, ``hashmatch/crosswalks/<from>-to-<to>.json`` when shipped, or the user's own. The
mapped value is a suggestion for triage, always shown beside the original label and named by
the crosswalk (``ncmec-to-uk@1``) that made it; it is never a legal category (DOMAIN.md).

A crosswalk file::

    {"format": "hashmatch-crosswalk/1", "from": "ncmec", "to": "uk", "version": "1",
     "title": "...", "notes": ["why each mapping", "sources"],
     "map": {"A1": ["A", "B"], "A2": ["C"], ...}}

Each source code maps to a list of target codes: several mean "one of these", an empty list
means "no equivalent in the target scheme" and sends the entry to review, as does a code the
table does not hold. Crosswalks are never chained: ``vics-legacy`` to ``uk`` needs its own
file, because two suggestions in a row compound their doubt.

No ``vics-uk`` crosswalk ships: the integer codes of the UK VICS profile are not public
(FORMATS.md §2). A CAID adapter maps them through the partner's profile table and records the
result as a ``uk_category`` label beside ``category_table``; :meth:`CrosswalkSet.map` honours
such ``<target>_category`` labels for any target.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from hashmatch.errors import InputError
from hashmatch.labels import Label, Scheme

__all__ = [
    "CROSSWALK_FORMAT",
    "DISPOSITION_SCHEME",
    "IDENTITY",
    "KNOWN_SCHEMES",
    "SHIPPED",
    "Crosswalk",
    "CrosswalkSet",
    "load_crosswalk",
    "load_crosswalks",
    "shipped_crosswalk_files",
]

CROSSWALK_FORMAT = "hashmatch-crosswalk/1"

DISPOSITION_SCHEME = "hashmatch-disposition"
"""hashmatch's own triage scheme: ``alert``, ``review``, ``ignore``. Not a grading."""

KNOWN_SCHEMES: frozenset[str] = frozenset({*(s.value for s in Scheme), DISPOSITION_SCHEME})
"""The schemes shipped crosswalks may name (a user's own may name others)."""

IDENTITY = "identity"
"""The ``crosswalk`` of a mapped value whose labels were already in the target scheme."""

SHIPPED = "shipped"
"""The ``origin`` of a crosswalk that comes with hashmatch."""

_SCHEME_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*\Z")
_KEYS = {"format", "from", "to", "version", "title", "notes", "map"}
_REQUIRED = _KEYS - {"notes"}


def _norm(code: str) -> str:
    """How a code is looked up: sources differ in case and stray spaces, never in meaning."""
    return code.strip().casefold()


@dataclass(frozen=True, slots=True, kw_only=True)
class Crosswalk:
    """One versioned table from a source scheme's codes to a target scheme's codes."""

    from_scheme: str
    to_scheme: str
    version: str
    title: str
    notes: tuple[str, ...]
    table: Mapping[str, tuple[str, ...]]
    """Source code, as the file writes it -> target codes (empty: no equivalent)."""
    origin: str
    """:data:`SHIPPED`, or the path of the user's file."""
    sha256: str
    """Of the file's bytes, so a report can say exactly which table was in force."""
    replaces: str | None = None
    """The reference (``name@version``) of the shipped crosswalk this one overrides."""
    _lookup: dict[str, tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._lookup.update((_norm(code), targets) for code, targets in self.table.items())

    @property
    def name(self) -> str:
        """``<from>-to-<to>``, the name of the shipped file."""
        return f"{self.from_scheme}-to-{self.to_scheme}"

    @property
    def ref(self) -> str:
        """``<name>@<version>``: what a mapped value and a report cite."""
        return f"{self.name}@{self.version}"

    def lookup(self, code: str) -> tuple[str, ...] | None:
        """The target codes for ``code`` (empty: no equivalent); None when the table lacks it."""
        return self._lookup.get(_norm(code))


def _fail(source: str, reason: str) -> InputError:
    return InputError(f"not a valid crosswalk: {reason}", source=source)


def _text(document: Mapping[str, Any], key: str, source: str) -> str:
    value = document[key]
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, f"{key!r} must be non-empty text, got {value!r}")
    return value.strip()


def _parse(raw: bytes, *, source: str, origin: str) -> Crosswalk:
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise _fail(source, f"not UTF-8 text ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise InputError(
            f"not a valid crosswalk: not valid JSON: {error.msg}", source=source, line=error.lineno
        ) from None
    if not isinstance(document, dict):
        raise _fail(source, "the file must hold one JSON object")
    missing = sorted(_REQUIRED - set(document))
    if missing:
        raise _fail(source, f"missing {', '.join(repr(k) for k in missing)}")
    unknown = sorted(set(document) - _KEYS)
    if unknown:
        raise _fail(source, f"unknown key(s) {', '.join(repr(k) for k in unknown)}")
    if document["format"] != CROSSWALK_FORMAT:
        raise _fail(source, f"'format' must be {CROSSWALK_FORMAT!r}, got {document['format']!r}")
    schemes = {}
    for key in ("from", "to"):
        name = _text(document, key, source)
        if not _SCHEME_NAME.match(name):
            raise _fail(source, f"{key!r} must be a scheme name like 'vics-us', got {name!r}")
        schemes[key] = name
    if schemes["from"] == schemes["to"]:
        raise _fail(source, f"'from' and 'to' are both {schemes['from']!r}")
    notes = document.get("notes", [])
    if isinstance(notes, str):
        notes = [notes]
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise _fail(source, "'notes' must be text or a list of texts")
    table = document["map"]
    if not isinstance(table, dict) or not table:
        raise _fail(source, "'map' must be a non-empty object of source code -> [target codes]")
    seen: dict[str, str] = {}
    clean: dict[str, tuple[str, ...]] = {}
    for code, targets in table.items():
        if not code.strip():
            raise _fail(source, "'map' has an empty source code")
        if _norm(code) in seen:
            raise _fail(source, f"'map' has both {seen[_norm(code)]!r} and {code!r}")
        seen[_norm(code)] = code
        if not isinstance(targets, list) or not all(
            isinstance(t, str) and t.strip() for t in targets
        ):
            raise _fail(
                source,
                f"'map' value for {code!r} must be a list of target codes "
                f"(an empty list: no equivalent), got {targets!r}",
            )
        stripped = [t.strip() for t in targets]
        if len(set(stripped)) != len(stripped):
            raise _fail(source, f"'map' value for {code!r} repeats a code: {targets!r}")
        clean[code] = tuple(stripped)
    return Crosswalk(
        from_scheme=schemes["from"],
        to_scheme=schemes["to"],
        version=_text(document, "version", source),
        title=_text(document, "title", source),
        notes=tuple(notes),
        table=clean,
        origin=origin,
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def load_crosswalk(path: Path) -> Crosswalk:
    """One user crosswalk file; raises InputError ``<file>: <reason>`` when it is not one."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read the crosswalk: {error.strerror}", source=str(path)) from None
    return _parse(raw, source=str(path), origin=str(path))


def shipped_crosswalk_files() -> list[str]:
    """File names of the crosswalks that come with hashmatch, sorted."""
    folder = resources.files("hashmatch") / "crosswalks"
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))


def _shipped() -> Iterator[Crosswalk]:
    folder = resources.files("hashmatch") / "crosswalks"
    for name in shipped_crosswalk_files():
        yield _parse(
            (folder / name).read_bytes(), source=f"hashmatch/crosswalks/{name}", origin=SHIPPED
        )


def _user_files(paths: Sequence[Path]) -> Iterator[Path]:
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file())
            if not found:
                raise InputError("no crosswalk file (*.json) in this folder", source=str(path))
        elif path.is_file():
            found = [path]
        else:
            raise InputError("no such crosswalk file or folder", source=str(path))
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                yield file


def load_crosswalks(extra: Sequence[Path] = ()) -> CrosswalkSet:
    """The shipped crosswalks, then the user's files and folders of ``*.json`` over them.

    A user file with the same ``from`` and ``to`` as a shipped one replaces it, and says so
    (:attr:`Crosswalk.replaces`); two user files for the same pair are refused, since which one
    should win is not ours to guess.
    """
    by_pair: dict[tuple[str, str], Crosswalk] = {
        (c.from_scheme, c.to_scheme): c for c in _shipped()
    }
    from_user: dict[tuple[str, str], Crosswalk] = {}
    for path in _user_files(extra):
        walk = load_crosswalk(path)
        pair = (walk.from_scheme, walk.to_scheme)
        if pair in from_user:
            raise InputError(
                f"{from_user[pair].origin} maps {walk.name} already: give only one of them",
                source=str(path),
            )
        shipped = by_pair.get(pair)
        if shipped is not None:
            walk = dataclasses.replace(walk, replaces=shipped.ref)
        from_user[pair] = by_pair[pair] = walk
    return CrosswalkSet(by_pair.values())


def _codes(value: Any) -> list[str]:
    """A category label's codes as text (sources write some as integers); [] for none."""
    values = value if isinstance(value, list) else [value]
    codes = []
    for item in values:
        if isinstance(item, bool) or item is None:
            continue
        text = str(item).strip()
        if text and text not in codes:
            codes.append(text)
    return codes


class CrosswalkSet:
    """The crosswalks in force, by (from, to), and how a match's labels map through them.

    Immutable once built; one set serves every batch of a run.
    """

    def __init__(self, crosswalks: Iterable[Crosswalk]) -> None:
        self._by_pair: dict[tuple[str, str], Crosswalk] = {}
        for walk in crosswalks:
            pair = (walk.from_scheme, walk.to_scheme)
            if pair in self._by_pair:
                raise InputError(
                    f"two crosswalks for {walk.name}: {self._by_pair[pair].origin}"
                    f" and {walk.origin}"
                )
            self._by_pair[pair] = walk

    def __iter__(self) -> Iterator[Crosswalk]:
        return iter(sorted(self._by_pair.values(), key=lambda c: c.name))

    def __len__(self) -> int:
        return len(self._by_pair)

    def get(self, from_scheme: str, to_scheme: str) -> Crosswalk | None:
        """The crosswalk from one scheme to another, if there is one (never a chain)."""
        return self._by_pair.get((from_scheme, to_scheme))

    def targets(self) -> list[str]:
        """Every scheme some crosswalk maps to, sorted."""
        return sorted({to for _, to in self._by_pair})

    def leading_to(self, target: str) -> list[Crosswalk]:
        """The crosswalks into ``target``, sorted by name."""
        return [c for c in self if c.to_scheme == target]

    def require_target(self, target: str) -> None:
        """Raise InputError when no crosswalk maps to ``target`` (a typo in ``--map-to``)."""
        if target not in {to for _, to in self._by_pair}:
            available = ", ".join(self.targets()) or "(none)"
            raise InputError(f"no crosswalk maps to {target!r}; available targets: {available}")

    def map(self, labels: Mapping[str, Any], target: str) -> dict[str, Any] | None:
        """A match's labels in the ``target`` scheme, as a crosswalk suggests them.

        Returns ``{"scheme": target, "category": [...], "crosswalk": "<from>-to-<to>@<v>"}``,
        with ``"review": "<why>"`` (and the codes it could map, often none) when a code has no
        equivalent or no table covers it; None when the labels carry no category. ``labels``
        is never changed.
        """
        codes = _codes(labels.get(Label.CATEGORY))
        if not codes:
            return None
        scheme = labels.get(Label.SCHEME)
        scheme = scheme.strip() if isinstance(scheme, str) and scheme.strip() else None
        if scheme == target:
            return {"scheme": target, "category": codes, "crosswalk": IDENTITY}
        profile_key = f"{target.replace('-', '_')}_category"
        profiled = _codes(labels.get(profile_key))
        if profiled:
            # the adapter mapped the code through the partner's own profile table at load
            table = labels.get("category_table")
            basis = f"category-table {table}" if table else f"label {profile_key}"
            return {"scheme": target, "category": profiled, "crosswalk": basis}
        if scheme is None:
            return {
                "scheme": target,
                "category": [],
                "review": "the source names no category scheme, so no crosswalk applies",
            }
        walk = self.get(scheme, target)
        if walk is None:
            return {
                "scheme": target,
                "category": [],
                "review": f"no crosswalk from {scheme} to {target}",
            }
        mapped: list[str] = []
        reasons = []
        for code in codes:
            found = walk.lookup(code)
            if found is None:
                reasons.append(f"{scheme} code {code!r} is not in the crosswalk")
            elif not found:
                reasons.append(f"{scheme} {code} has no equivalent in {target}")
            mapped.extend(t for t in found or () if t not in mapped)
        result: dict[str, Any] = {"scheme": target, "category": mapped, "crosswalk": walk.ref}
        if reasons:
            result["review"] = "; ".join(reasons)
        return result
