"""VICS hash sets: the fast path (Arrow, a few MiB at a time) against its reference twin.

``VicsAdapter.read`` parses a hash set's records with Arrow and reads them a column at a
time; ``read_by_event`` builds every record from ijson's parse events. Whatever the bytes
(odd values, other spellings, nested hash pairs, cut-off or broken JSON), both must give
the same batches, the same warnings at the same moments, and the same error.
"""

from __future__ import annotations

import codecs
import io
import json
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pytest
from hashmatch_adapters import vics
from hashmatch_adapters.caid import CaidAdapter
from hashmatch_adapters.vics import VicsAdapter
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_adapter_vics import LAYOUTS, Layout, media_records, render

from hashmatch.adapter import ReadContext
from hashmatch.errors import HashmatchError
from hashmatch.records import RECORD_SCHEMA, decode_labels

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "adapters"
ROOT_20 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
DEFAULT = f"{ROOT_20}/Default/$metadata#Media"
MD5 = "8AE3352BE594F4C2FC4B7D527A79ACE1"
SHA256 = "9A4D5772BC96D6164574B7A18E731E9F08768FD68121F1969BB90D4AB4CA7290"

Adapter = type[VicsAdapter] | type[CaidAdapter]


@contextmanager
def sizes(fast_bytes: int, window: int | None = None, chunk: int | None = None) -> Iterator[None]:
    """The fast path's read size, the window its cuts are looked for in, and the records
    of a chunk (both paths), made small so that records straddle everything."""
    patches = {"FAST_BYTES": fast_bytes, "_WINDOW": window or vics._WINDOW}
    if chunk is not None:
        patches["CHUNK"] = chunk
    with mock.patch.multiple(vics, **patches):  # type: ignore[arg-type]
        yield


def observe(adapter: Adapter, method: str, data: bytes, **options: Any) -> dict[str, Any]:
    """All a consumer sees of a read: each batch's rows with the warning count when it came,
    the warnings, and the error that ended the read."""
    context = ReadContext(source="twin", **options)
    batches = []
    error = None
    try:
        for batch in getattr(adapter(), method)(io.BytesIO(data), context):
            assert batch.schema.equals(RECORD_SCHEMA, check_metadata=True)
            assert 0 < batch.num_rows <= context.batch_size
            batches.append((batch.to_pylist(), context.warning_count))
    except HashmatchError as exc:
        error = (type(exc).__name__, exc.line, exc.reason)
    except UnicodeError as exc:  # the stage turns it into an InputError
        error = (type(exc).__name__, None, str(exc))
    return {
        "batches": batches,
        "warnings": [(w.line, w.reason) for w in context.warnings],
        "count": context.warning_count,
        "error": error,
    }


def agree(adapter: Adapter, data: bytes, **options: Any) -> dict[str, Any]:
    """What ``read`` sees, after checking that ``read_by_event`` sees the same."""
    fast = observe(adapter, "read", data, **options)
    reference = observe(adapter, "read_by_event", data, **options)
    assert fast == reference
    return fast


def rows(seen: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for batch, _ in seen["batches"] for row in batch]


# --- the fixtures, in every read size ------------------------------------------------


FIXTURE_FILES = sorted(
    [(VicsAdapter, p) for p in (FIXTURES / "vics").glob("*.json")]
    + [(CaidAdapter, p) for p in (FIXTURES / "caid").glob("*.json")],
    key=lambda pair: str(pair[1]),
)


@pytest.mark.parametrize(
    ("adapter", "path"), FIXTURE_FILES, ids=[p.parent.name + "/" + p.name for _, p in FIXTURE_FILES]
)
@pytest.mark.parametrize(("fast_bytes", "window"), [(1 << 22, None), (64, 16), (7, 3)])
def test_every_fixture_reads_the_same(
    adapter: Adapter, path: Path, fast_bytes: int, window: int | None
) -> None:
    with sizes(fast_bytes, window):
        for strict in (False, True):
            for batch_size in (1, 2, 65_536):
                agree(adapter, path.read_bytes(), strict=strict, batch_size=batch_size)


# --- records as text: every value a writer (or a broken file) may hold ----------------

TEXT = st.text(
    st.one_of(
        st.sampled_from('"\\/[]{},:|\t\r\n é合成シリーズ𝄞\u2028\x00\x1f'),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    max_size=12,
)
INTEGERS = st.one_of(
    st.integers(-3, 30), st.integers(-(2**63), 2**63 - 1), st.integers(2**63, 2**70)
)
NUMBER_TEXTS = st.sampled_from(["1.5", "21.0", "1e3", "-0", "0", "-0.0", "1E400", "7"])
HEX = st.sampled_from([MD5, MD5.lower(), SHA256, SHA256.lower(), "", "xyz", MD5[:16]])
PHOTODNA = st.sampled_from(
    ["2YqY4c+ZlmH5Z72v3w5zN0IME/j11A9s==", "AAAA|BBBB", "AAAA, BBBB\tCCCC", "", " X "]
)


def pair(name: str, value: Any) -> dict[str, Any]:
    return {"MD5": MD5, "HashName": name, "HashValue": value}


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


SCALARS = st.one_of(
    TEXT.map(dump),
    INTEGERS.map(str),
    NUMBER_TEXTS,
    st.sampled_from(["true", "false", "null", '"true"', '"FALSE"', '" True "', '""', '"maybe"']),
)


@st.composite
def pair_objects(draw: st.DrawFn) -> str:
    """An object that may hold a HashName/HashValue pair (keys in any case)."""
    fields = []
    name_key = draw(st.sampled_from(["HashName", "hashname", "HASHNAME"]))
    value_key = draw(st.sampled_from(["HashValue", "hashValue"]))
    if draw(st.booleans()):
        fields.append(f'"MD5":{dump(MD5)}')
    if draw(st.integers(0, 4)):
        name = draw(st.sampled_from(["SHA256", "SHA-256", "sha_256", "PhotoDNA", "EDK", "ſha256"]))
        fields.append(f'"{name_key}":{dump(name)}')
    if draw(st.integers(0, 4)):
        fields.append(
            f'"{value_key}":{draw(st.one_of(HEX.map(dump), PHOTODNA.map(dump), SCALARS))}'
        )
    if not draw(st.integers(0, 6)):
        fields.append(f'"PropertyValue":{draw(SCALARS)}')
    if not draw(st.integers(0, 8)):
        nested = draw(st.sampled_from(["{}", dump(pair("SHA256", SHA256.lower())), "1"]))
        fields.append(f'"Nested":[{nested}]')
    if not draw(st.integers(0, 8)):
        fields.append(f'"Created":{dump("2024-05-01T10:00:00Z")}')
    draw(st.randoms()).shuffle(fields)
    return "{" + ",".join(fields) + "}"


CONTAINERS = st.one_of(
    st.lists(pair_objects(), max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
    st.just("null"),
    st.just("[]"),
    pair_objects(),
    st.lists(SCALARS, max_size=2).map(lambda items: "[" + ",".join(items) + "]"),
)
MEDIA_FILES = st.one_of(
    st.lists(
        st.fixed_dictionaries(
            {"MD5": st.just(MD5)}, optional={"FileName": st.one_of(TEXT, st.just("  "))}
        ).map(dump),
        max_size=2,
    ).map(lambda items: "[" + ",".join(items) + "]"),
    CONTAINERS,
)
FIELDS: dict[str, st.SearchStrategy[str]] = {
    "MediaID": st.one_of(
        st.integers(0, 2**40).map(str), st.integers(0, 99).map(lambda i: f'"{i}"'), SCALARS
    ),
    "Category": st.one_of(
        st.integers(-1, 12).map(str), st.sampled_from(['"1"', '" 7 "', '""', "null"]), SCALARS
    ),
    "MD5": st.one_of(HEX.map(dump), SCALARS),
    "SHA1": st.one_of(HEX.map(dump), st.just("null")),
    "SHA256": st.one_of(HEX.map(dump), st.just("null")),
    "PhotoDNA": st.one_of(PHOTODNA.map(dump), st.just("null")),
    "MediaSize": st.one_of(
        st.integers(0, 2**40).map(str),
        st.sampled_from(['"21"', '"1,234"', '"abc"', "-1", "21.0", str(2**63)]),
        SCALARS,
    ),
    "DateUpdated": st.one_of(
        st.sampled_from(
            ["2024-05-01T10:00:00.0000Z", "2024-05-01T10:00:00Z", "2024-05-01", "/Date(1)/"]
        ).map(dump),
        SCALARS,
    ),
    "VictimIdentified": SCALARS,
    "OffenderIdentified": st.sampled_from(["true", "false", '"true"', '"false"', "null"]),
    "IsDistributed": st.sampled_from(["true", "false", "null"]),
    "IsPrecategorized": st.sampled_from(['"false"', '"true"', '"False"']),
    "IsSuspected": SCALARS,
    "Series": st.one_of(TEXT.map(dump), st.just(dump('Synthetic "B", part ] }'))),
    "Tags": st.one_of(TEXT.map(dump), st.lists(TEXT, max_size=3).map(dump), st.just("[1]")),
    "Comments": TEXT.map(dump),
    "FileName": st.one_of(TEXT.map(dump), st.just("null")),
    "RelativeFilePath": st.sampled_from(['"a\\\\b\\\\c.jpg"', '"x/y.png"', '"/"', '" "']).map(str),
    "MimeType": st.just('"image/jpeg"'),
    "AlternativeHashes": CONTAINERS,
    "Exifs": CONTAINERS,
    "MediaFiles": MEDIA_FILES,
}
COMMON = ["MediaID", "Category", "MD5", "SHA1", "MediaSize", "DateUpdated", "IsPrecategorized"]


@st.composite
def record_texts(draw: st.DrawFn, odd: bool) -> str:
    """One Media record as JSON text: mostly the usual fields, now and then anything."""
    if odd and not draw(st.integers(0, 30)):
        return draw(st.sampled_from(["7", '"x"', "null", "[]", "[1]", "{}"]))
    names = [name for name in COMMON if draw(st.integers(0, 9))]
    names += draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=4 if odd else 2))
    if odd and not draw(st.integers(0, 6)):
        names.append(draw(st.sampled_from(["Unknown", "mediasize", "MD5", "md5", "Category"])))
    parts = []
    for name in dict.fromkeys(names) if not odd else names:
        values = FIELDS.get(vics._BY_LOWER.get(name.lower(), ""), SCALARS)
        parts.append(f"{dump(name)}:{draw(values)}")
    return "{" + ",".join(parts) + "}"


@st.composite
def hash_sets(draw: st.DrawFn, odd: bool = True) -> bytes:
    """A hash set's bytes: records as text, laid out minified, a record a line or pretty
    (tabs, CRLF), in UTF-8 with or without a BOM or in UTF-16; sometimes broken."""
    records = draw(st.lists(record_texts(odd), min_size=1, max_size=12))
    layout = draw(st.sampled_from(["minified", "per-line", "pretty"]))
    if layout == "minified":
        body = ",".join(records)
        text = f'{{"@odata.context":{dump(DEFAULT)},"value":[{body}]}}'
    elif layout == "per-line":
        body = ",\n".join(records)
        text = f'{{"@odata.context": {dump(DEFAULT)},\n"value": [\n{body}\n]}}\n'
    else:
        body = ",\r\n\t\t".join(r.replace('","', '",\r\n\t\t\t"') for r in records)
        model = dump(DEFAULT)
        text = f'{{\r\n\t"@odata.context": {model},\r\n\t"value": [\r\n\t\t{body}\r\n\t]\r\n}}\r\n'
    if draw(st.integers(0, 5)) == 0:
        text = text[: text.rindex("}")] + draw(
            st.sampled_from([',"extra":[1,{"a":2}]}', f',"value":[{records[0]}]}}', "}x", "}}"])
        )
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16"]))
    data = text.encode(encoding, errors="surrogatepass")
    damage = draw(st.integers(0, 9)) if odd else 9
    if damage == 0:
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == 1:
        at = draw(st.integers(0, len(data) - 1))
        data = (
            data[:at]
            + draw(st.sampled_from([b",", b"}", b"]", b'"', b"\\", b"\xff", b"NaN"]))
            + data[at + 1 :]
        )
    return data


READ_SIZES = st.sampled_from([(1 << 22, None), (64, 16), (23, 5), (200, 48), (1, 1)])


@settings(max_examples=300, deadline=None)
@given(
    data=hash_sets(),
    read_size=READ_SIZES,
    chunk=st.sampled_from([1, 2, 3, 4096]),
    batch_size=st.sampled_from([1, 2, 5, 65_536]),
    strict=st.booleans(),
)
@example(
    data=(
        f'{{"@odata.context":{dump(DEFAULT)},"value":[{{"MD5":"{MD5}","Category":1.5}},'
        f'{{"MD5":"{MD5}","Category":NaN}}]}}'
    ).encode(),
    read_size=(1 << 22, None),
    chunk=4096,
    batch_size=1,
    strict=False,
).via("a fraction, then NaN, which Arrow takes and ijson refuses")
@example(
    data=(
        f'{{"@odata.context":{dump(DEFAULT)},"value":[{{"MD5":"{MD5}"}}],'
        f'"value":[{{"MD5":"{MD5.lower()}"}}]}}'
    ).encode(),
    read_size=(1 << 22, None),
    chunk=4096,
    batch_size=65_536,
    strict=False,
).via("a second array under the same key holds records too")
@example(
    data=(
        f'{{"@odata.context":{dump(DEFAULT)},"value":[{{"MD5":"{MD5}"}},'
        '{"MD5":null,"DateUpdated":"\\"\\",\x80"}]}'
    ).encode("latin-1"),
    read_size=(64, 16),
    chunk=1,
    batch_size=2,
    strict=False,
).via("a byte that is no UTF-8 in a string with escapes, which Arrow lets through")
def test_any_hash_set_reads_the_same(
    data: bytes, read_size: tuple[int, int | None], chunk: int, batch_size: int, strict: bool
) -> None:
    with sizes(*read_size, chunk=chunk):
        agree(VicsAdapter, data, strict=strict, batch_size=batch_size)


@settings(max_examples=100, deadline=None)
@given(
    records=st.lists(media_records(), min_size=1, max_size=8), layout=LAYOUTS, read_size=READ_SIZES
)
def test_what_a_writer_renders_reads_the_same(
    records: list[Any], layout: Layout, read_size: tuple[int, int | None]
) -> None:
    with sizes(*read_size, chunk=3):
        seen = agree(VicsAdapter, render(records, layout), strict=True, batch_size=2)
    assert seen["error"] is None
    assert len(rows(seen)) == len(records)


# --- behaviour a user would notice ----------------------------------------------------


def synthetic(n: int, pretty: bool = False, **extra: Any) -> bytes:
    records = [
        {
            "MediaID": i,
            "Category": i % 5,
            "MD5": f"{i:032X}",
            "MediaSize": 21,
            "DateUpdated": "2024-05-01T10:00:00.0000000Z",
            "IsPrecategorized": "false",
            **({"Series": 'Synthetic "B", part ] }'} if i % 7 == 0 else {}),
            **(
                {"AlternativeHashes": [{"HashName": "SHA256", "HashValue": f"{i:064x}"}]}
                if i % 5 == 0
                else {}
            ),
            **extra,
        }
        for i in range(1, n + 1)
    ]
    document = {"@odata.context": DEFAULT, "value": records}
    if pretty:
        return json.dumps(document, indent="\t", ensure_ascii=False).replace("\n", "\r\n").encode()
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize("pretty", [False, True])
def test_a_clean_hash_set_never_needs_the_dict_reader(pretty: bool) -> None:
    data = synthetic(3000, pretty)
    with (
        sizes(16 << 10, 4 << 10),
        mock.patch.object(
            vics._MediaChunks, "rows", side_effect=AssertionError("the dict reader was used")
        ),
    ):
        found = [
            row
            for batch in VicsAdapter().read(io.BytesIO(data), ReadContext(source="x"))
            for row in batch.to_pylist()
        ]
    assert [row["line"] for row in found] == list(range(1, 3001))
    assert found[4]["sha256"] == f"{5:064x}"
    assert decode_labels(found[6]["labels"])["series"] == 'Synthetic "B", part ] }'


def test_groups_that_arrow_cannot_read_go_through_ijson_and_agree() -> None:
    # A fraction in the middle of the file: that group only is read from ijson's items.
    records = json.loads(synthetic(600))["value"]
    records[300]["MediaSize"] = 1.5
    records[301]["Category"] = "2"
    data = json.dumps({"@odata.context": DEFAULT, "value": records}).encode()
    with sizes(4 << 10, 1 << 10, chunk=64):
        seen = agree(VicsAdapter, data, batch_size=100)
    assert seen["warnings"] == [
        (301, "record 301 (MediaID 301): MediaSize is not a byte count: 1.5")
    ]
    assert len(rows(seen)) == 600


def test_a_cut_off_hash_set_fails_after_the_same_batches() -> None:
    data = synthetic(2000)
    cut = data[: len(data) * 3 // 4]
    with sizes(8 << 10, 2 << 10, chunk=256):
        seen = agree(VicsAdapter, cut, batch_size=1)
    assert seen["error"][0] == "RecordError"
    done = len(rows(seen))
    assert done > 0
    assert done % 256 == 0, "only whole chunks are let through before the error"


def test_the_first_record_is_checked_before_a_later_break() -> None:
    bad_first = synthetic(50).replace(b'"MD5":"00000000000000000000000000000001",', b"", 1)
    seen = agree(VicsAdapter, bad_first)
    assert seen["error"] == (
        "UnsupportedFormat",
        1,
        "record 1 (MediaID 1): no MD5, SHA1 or SHA-256",
    )
    seen = agree(VicsAdapter, bad_first[:-300])
    assert seen["error"][0] == "RecordError", "a file that breaks off is that first"


def test_memory_stays_flat_on_the_fast_path() -> None:
    peaks = []
    arrow_peaks = []
    with sizes(64 << 10, 16 << 10, chunk=512):
        for n in (5_000, 50_000):
            data = synthetic(n)
            count = 0
            arrow = 0
            tracemalloc.start()
            try:
                for batch in VicsAdapter().read(
                    io.BytesIO(data), ReadContext(source="x", batch_size=1024)
                ):
                    count += batch.num_rows
                    # Arrow's buffers are not Python's: tracemalloc does not see them.
                    arrow = max(arrow, pa.total_allocated_bytes())
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
            arrow_peaks.append(arrow)
            assert count == n
    # Ten times the records (about 9 MB more of JSON) and no more memory.
    assert peaks[1] < peaks[0] + 1_000_000, peaks
    assert arrow_peaks[1] < arrow_peaks[0] + 2_000_000, arrow_peaks


def test_a_reader_left_early_stops_cleanly() -> None:
    batches = VicsAdapter().read(
        io.BytesIO(synthetic(20_000)), ReadContext(source="x", batch_size=10)
    )
    assert next(batches).num_rows == 10
    batches.close()


def test_utf16_and_a_bom_take_the_fast_path_too() -> None:
    document = synthetic(40).decode()
    for data in (codecs.BOM_UTF8 + document.encode(), document.encode("utf-16")):
        with mock.patch.object(
            vics._MediaChunks, "rows", side_effect=AssertionError("dict reader")
        ):
            found = [
                r
                for b in VicsAdapter().read(io.BytesIO(data), ReadContext(source="x"))
                for r in b.to_pylist()
            ]
        assert len(found) == 40
        agree(VicsAdapter, data)


def test_the_table_labels_agree(tmp_path: Path) -> None:
    (tmp_path / "uk.json").write_text(
        json.dumps(
            {"format": "hashmatch-category-table/1", "profile": "UK", "version": "2026-01",
             "scheme": "uk", "codes": {"1": "Category A", "2": "Category \"B\""}}
        )
    )  # fmt: skip
    model = f"{ROOT_20}/UK/$metadata#Media"
    records = [{"MD5": MD5, "Category": c} for c in (1, 2, 3, None, "x", " 2 ")]
    data = json.dumps({"@odata.context": model, "value": records}).encode()
    for options in ({"category_tables": str(tmp_path)}, {}):
        seen = agree(CaidAdapter, data, options=options)
        labels = [decode_labels(row["labels"]) for row in rows(seen)]
        assert [label.get("uk_category") for label in labels] == (
            ["Category A", 'Category "B"', None, None, None, 'Category "B"']
            if options
            else [None] * 6
        )


def hash_set(*records: Any, model: str = DEFAULT) -> bytes:
    return json.dumps({"@odata.context": model, "value": list(records)}).encode()


ODD_HASH_SETS = {
    # Read from Arrow's columns (no record goes to the dict reader):
    "pairs in two containers, never in one record": (
        True,
        [
            {"MediaID": i, "MD5": MD5, "AlternativeHashes": [pair("SHA256", SHA256)]}
            for i in range(9)
        ]
        + [{"MediaID": 9, "MD5": MD5, "Exifs": [pair("PhotoDNA", "AAAA|BBBB")]}],
    ),
    "an object for a container, and objects with no pairs": (
        True,
        [
            {"MD5": MD5, "Exifs": pair("sha-256", SHA256.lower())},
            {"MD5": MD5, "MediaFiles": [{"MD5": MD5, "FileName": "a.jpg"}], "Exifs": {"x": 1}},
            {"MD5": MD5, "FileName": " ", "RelativeFilePath": "dir\\\\b.png"},
            {"MD5": MD5, "AlternativeHashes": [{"HashName": 5, "HashValue": SHA256}]},
        ],
    ),
    "tags as arrays, a second SHA-256, PhotoDNA in two places": (
        True,
        [
            {"MD5": MD5, "Tags": ["a", "b", ""], "SHA256": SHA256},
            {"MD5": MD5, "Tags": [], "SHA256": MD5, "AlternativeHashes": [pair("SHA256", SHA256)]},
            {"MD5": MD5, "PhotoDNA": "QUJD", "AlternativeHashes": [pair("PHOTODNA", "QUJD,REVG")]},
        ],
    ),
    "nested objects that begin like records": (
        True,
        [
            {"MD5": MD5, "MediaID": i, "Exifs": [{"MD5": MD5, "PropertyName": "p"}] * 3}
            for i in range(200)
        ],
    ),
    # Read from ijson's items, as the reference reads them:
    "pairs in two containers of one record": (
        False,
        [
            {
                "MD5": MD5,
                "Exifs": [pair("SHA256", MD5)],
                "AlternativeHashes": [pair("SHA256", SHA256)],
            }
        ],
    ),
    "a fraction inside a container": (False, [{"MD5": MD5, "Exifs": [{"PropertyValue": 1.5}]}]),
    "keys in other case": (False, [{"md5": MD5, "Md5": MD5.lower(), "SHA1": None}]),
}
NOT_UTF8 = [b"\x80", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xff"]


@pytest.mark.parametrize("junk", NOT_UTF8)
@pytest.mark.parametrize(
    "where",
    [
        b'{"MD5":"%s","Series":"x\\"JUNK"}',
        b'{"MD5":"%s","Series":"JUNK"}',
        b'{"MD5":"%s","Exifs":[{"PropertyValue":"\\"JUNK"}]}',
        b'{"MD5":"%s","JUNK":1}',
        b'{"MD5":"%s","Exifs":[{"P\\"JUNK":1}]}',
    ],
)
def test_bytes_that_are_no_utf8_fail_as_in_the_reference(junk: bytes, where: bytes) -> None:
    record = (where % MD5.encode()).replace(b"JUNK", junk)
    data = b'{"@odata.context":"%s","value":[%s,%s]}' % (DEFAULT.encode(), record, record)
    seen = agree(VicsAdapter, data)
    assert seen["error"] is not None


@pytest.mark.parametrize("case", sorted(ODD_HASH_SETS))
def test_odd_hash_sets_read_the_same(case: str) -> None:
    columns_only, records = ODD_HASH_SETS[case]
    data = hash_set(*records)
    for read_size in [(1 << 22, None), (256, 64), (60, 20)]:
        with sizes(*read_size):
            for strict in (False, True):
                for batch_size in (1, 65_536):
                    agree(VicsAdapter, data, strict=strict, batch_size=batch_size)
    reference = vics._MediaChunks.rows
    with mock.patch.object(vics._MediaChunks, "rows", autospec=True, side_effect=reference) as used:
        list(VicsAdapter().read(io.BytesIO(data), ReadContext(source="x")))
    assert used.called is not columns_only


def test_table_codes_read_from_columns_agree(tmp_path: Path) -> None:
    (tmp_path / "australia.json").write_text(
        json.dumps(
            {"format": "hashmatch-category-table/1", "profile": "Australia", "version": "v1",
             "scheme": "au", "codes": {"1": "One", "-2": "Minus two"}}
        )
    )  # fmt: skip
    data = hash_set(
        *({"MD5": MD5, "Category": c} for c in (1, -2, 3, None, 1)),
        model=f"{ROOT_20}/Australia/$metadata#Media",
    )
    seen = agree(VicsAdapter, data, options={"category_tables": str(tmp_path)})
    labels = [decode_labels(row["labels"]) for row in rows(seen)]
    assert [label.get("au_category") for label in labels] == ["One", "Minus two", None, None, "One"]
    assert labels[2]["review"] == "category code 3 is not in the australia category table v1"
    assert labels[0]["category_table"] == "Australia@v1"
