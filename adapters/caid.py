"""UK CAID exports: VICS 2.0 JSON with the ``UK`` profile, its codes read through a table.

FORMATS.md §2. CAID (the Home Office's Child Abuse Image Database) moves data as VICS 2.0
JSON whose model names the UK regional profile::

    {"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Cases",
     "value": [{"CaseNumber": "SYN-0001", "Media": [{"MediaID": 1, "MD5": "B2ED...3FC6", ...}]}]}

Everything but the categories is read as :mod:`hashmatch_adapters.vics` reads any VICS
file (same ``line``: the 1-based Media record index; same labels, ``scheme`` ``vics-uk``).
This adapter only reads UK-profile 2.0 files; detection tries it before ``vics``.

The integer ``Category`` codes of the UK profile are **not public**, and no mapping is
built in. An administrator who has the partner documentation writes it as a category
table: the JSON file ``<folder>/<profile>.json`` (here ``uk.json``; the file name's case
does not matter) in the folder that the ``category_tables`` option names, else in the
folder shipped with hashmatch (``hashmatch/data/category-tables/``, which holds only a
README)::

    {"format": "hashmatch-category-table/1",
     "profile": "UK",
     "version": "2026-01",
     "scheme": "uk",
     "codes": {"<raw code>": "<label in the scheme>", ...}}

``format`` must be exactly that; ``profile`` must name the file's profile; ``version`` is
any non-empty text that tells table editions apart; ``scheme`` (lower case, like ``uk``)
names the scheme the labels belong to; ``codes`` maps each raw code, as the file's
``Category`` reads as text (``"1"``, compared exactly), to its label. A table that breaks
any of this is a :class:`hashmatch.errors.ConfigurationError` naming the file.

Labels of a record whose code the table maps (the raw code is always kept)::

    {"scheme": "vics-uk", "category": "1", "uk_category": "<label>",
     "category_table": "UK@2026-01", "vics_version": "2.0", "vics_profile": "UK", ...}

A code the table lacks keeps its raw ``category`` and gets ``review``: ``category code 7
is not in the uk category table 2026-01``; with no table at all, ``category code 7 is not
mapped: no category table for profile UK is configured``. A code is never guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role

from .vics import VicsModel, read_vics, sniff_model

__all__ = ["CaidAdapter"]


class CaidAdapter(FormatAdapter):
    """UK CAID exports: VICS 2.0 JSON with the UK profile, its category codes mapped only
    through the administrator's category table (never guessed)."""

    NAME: ClassVar[str] = "caid"
    DESCRIPTION: ClassVar[str] = (
        "UK CAID exports: VICS 2.0 JSON, UK profile, category codes through a profile table"
    )
    PRIORITY: ClassVar[int] = 5
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """A VICS file whose model is data model 2.0 with the UK profile."""
        try:
            model = sniff_model(head)
        except Exception:
            return False
        return isinstance(model, VicsModel) and model.is_uk

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per Media record with a digest (``line``: its record index)."""
        return read_vics(stream, context, uk_only=True)

    def read_by_event(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """What :meth:`read` yields, built from ijson's parse events (the reference twin)."""
        return read_vics(stream, context, by_event=True, uk_only=True)
