"""INTERPOL ICSE baseline lists: the header, flags, counts, quoting, BOMs and CRLF."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Callable
from typing import Any

import pytest
from hashmatch_adapters.icse import IcseAdapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import hex_digests

from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError, UnsupportedFormat
from hashmatch.records import decode_labels

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest().upper() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest().upper() for s in SOURCES]
HEADER = (
    "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;"
    "Series name;Number of submissions;File Available;Media Type;Baseline"
)


def rows_of(read: Reader, data: bytes, **options: Any) -> tuple[list[dict[str, Any]], Any]:
    rows, context = read(IcseAdapter, data, **options)
    return [{**r, "labels": decode_labels(r["labels"])} for r in rows], context


def without_photodna(labels: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in labels.items() if k != "perceptual"}


def test_the_valid_list(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = rows_of(read, fixture_bytes("icse/valid.csv"), strict=True)
    assert [(r["line"], r["md5"], r["sha1"]) for r in rows] == [
        (n + 2, MD5[n], SHA1[n]) for n in range(5)
    ]
    labels = [without_photodna(r["labels"]) for r in rows]
    common = {"scheme": "interpol"}
    assert labels == [
        {
            **common,
            "source_id": "2001",
            "distributed": True,
            "victim_identified": False,
            "offender_identified": False,
            "confirmations": 2,
            "icse_file_available": True,
            "icse_media_type": "Image",
            "category": "Baseline",
        },
        {
            **common,
            "source_id": "2002",
            "distributed": True,
            "victim_identified": False,
            "offender_identified": False,
            "series": "SYN-A",
            "confirmations": 1,
            "icse_file_available": True,
            "icse_media_type": "Image",
            "category": "true",
            "icse_baseline": True,
        },
        {
            **common,
            "source_id": "2003",
            "distributed": True,
            "victim_identified": False,
            "offender_identified": True,
            "series": "SYN-B",
            "confirmations": 3,
            "icse_file_available": False,
            "icse_media_type": "Video",
            "category": "1",
            "icse_baseline": True,
        },
        {
            **common,
            "source_id": "2004",
            "distributed": False,
            "victim_identified": True,
            "offender_identified": False,
            "icse_media_type": "Image",
        },
        {
            **common,
            "source_id": "2005",
            "series": "SYN-C",
            "confirmations": 12,
            "category": "Baseline",
        },
    ]
    perceptual = [r["labels"].get("perceptual") for r in rows]
    assert perceptual[2] is None  # an empty PhotoDNA cell
    for index in (0, 1, 3, 4):
        value = perceptual[index]
        assert value is not None
        assert value[0].startswith("photodna:")
        assert len(value[0]) == len("photodna:") + 192
    assert context.warning_count == 0


def test_bad_later_rows(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    data = fixture_bytes("icse/corrupt.csv")
    rows, context = rows_of(read, data)
    assert [(r["line"], r["md5"], r["labels"]["source_id"]) for r in rows] == [
        (2, MD5[0], "2001"),
        (3, MD5[1], "2002"),
        (4, MD5[2], "2003"),
        (5, MD5[3], "2004"),
        (7, MD5[4], "2006"),
    ]
    # The flag or count that cannot be read is left out; the rest of the row stays.
    assert "distributed" not in rows[1]["labels"]
    assert rows[1]["labels"]["confirmations"] == 2
    assert "confirmations" not in rows[2]["labels"]
    assert without_photodna(rows[3]["labels"]) == {
        "scheme": "interpol",
        "source_id": "2004",
        "distributed": True,
    }
    assert [(w.line, w.reason) for w in context.warnings] == [
        (3, "'Is distributed' is not yes/no, true/false or 1/0: 'maybe'"),
        (4, "'Number of submissions' is not a whole number: 'two'"),
        (5, "short row: 5 fields, the header has 12"),
        (6, "no MD5 or SHA1 on this row: it cannot be matched and is skipped"),
    ]
    with pytest.raises(RecordError) as raised:
        rows_of(read, data, strict=True)
    assert raised.value.line == 3


def test_quoted_series_with_semicolons_quotes_and_unicode(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = rows_of(read, fixture_bytes("icse/quoted.csv"), strict=True)
    assert [(r["labels"].get("series"), r["labels"]["source_id"]) for r in rows] == [
        ('Series "Alpha"; part 2', "5001"),
        ("São; 日本", "5002"),
    ]
    assert "category" not in rows[1]["labels"]


def test_columns_in_any_order_and_case(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = rows_of(read, fixture_bytes("icse/reordered.csv"), strict=True)
    assert [(r["md5"], r["sha1"], r["labels"]) for r in rows] == [
        (
            MD5[3].lower(),
            SHA1[3].lower(),
            {
                "scheme": "interpol",
                "category": "Baseline",
                "source_id": "6001",
                "series": "SYN-E",
                "victim_identified": True,
                "confirmations": 4,
            },
        ),
        (
            MD5[4].lower(),
            SHA1[4].lower(),
            {
                "scheme": "interpol",
                "category": "true",
                "icse_baseline": True,
                "source_id": "6002",
                "victim_identified": False,
                "confirmations": 1,
            },
        ),
    ]


@pytest.mark.parametrize(("name", "first"), [("icse/bom.csv", 0), ("icse/crlf.csv", 2)])
def test_bom_and_crlf(
    read: Reader, fixture_bytes: Callable[[str], bytes], name: str, first: int
) -> None:
    data = fixture_bytes(name)
    rows, _ = rows_of(read, data, strict=True)
    assert [(r["line"], r["md5"], r["sha1"]) for r in rows] == [
        (2, MD5[first], SHA1[first]),
        (3, MD5[first + 1], SHA1[first + 1]),
    ]
    for row in rows:
        assert all("\r" not in str(v) and "\ufeff" not in str(v) for v in row["labels"].values())


def test_ipeds_renamed_columns(read: Reader) -> None:
    data = f"MD5;SHA1;ImageID;IsDistributed;NumSubmissions;Baseline\n{MD5[0]};;7;No;3;false\n"
    rows, _ = rows_of(read, data.encode(), strict=True)
    assert rows[0]["labels"] == {
        "scheme": "interpol",
        "source_id": "7",
        "distributed": False,
        "confirmations": 3,
        "category": "false",
        "icse_baseline": False,
    }
    assert rows[0]["sha1"] is None


@pytest.mark.parametrize(
    ("cell", "flag"),
    [
        ("yes", True),
        ("YES", True),
        (" Yes ", True),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("no", False),
        ("No", False),
        ("false", False),
        ("False", False),
        ("0", False),
    ],
)
def test_flag_spellings(read: Reader, cell: str, flag: bool) -> None:
    data = f"MD5;SHA1;Image ID;Victim identified\n{MD5[0]};{SHA1[0]};1;{cell}\n".encode()
    rows, _ = rows_of(read, data, strict=True)
    assert rows[0]["labels"]["victim_identified"] is flag


@pytest.mark.parametrize("cell", ["y", "n", "2", "-1", "ja", "maybe", "yes!"])
def test_other_flag_values_are_warnings(read: Reader, cell: str) -> None:
    data = f"MD5;SHA1;Image ID;Victim identified\n{MD5[0]};{SHA1[0]};1;{cell}\n".encode()
    rows, context = rows_of(read, data)
    assert "victim_identified" not in rows[0]["labels"]
    assert [w.line for w in context.warnings] == [2]
    assert "'Victim identified' is not yes/no" in context.warnings[0].reason


def test_a_newline_inside_quotes_keeps_line_numbers_right(read: Reader) -> None:
    data = (
        f'{HEADER}\n{MD5[0]};{SHA1[0]};;1;;;;"two\nlines";;;;\n{MD5[1]};{SHA1[1]};;2;;;;;;;;\n'
    ).encode()
    rows, _ = rows_of(read, data, strict=True)
    assert [(r["line"], r["labels"].get("series")) for r in rows] == [(2, "two\nlines"), (4, None)]


def test_blank_lines_are_skipped(read: Reader) -> None:
    data = f"\n{HEADER}\n\n{MD5[0]};;;1;;;;;;;;\n;;;;;;;;;;;\n".encode()
    rows, context = rows_of(read, data, strict=True)
    assert [(r["line"], r["md5"]) for r in rows] == [(4, MD5[0])]
    assert context.warning_count == 0


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"", None, "no header row"),
        (b"\n\n", None, "no header row"),
        (b"MD5,SHA1,Image ID\n", 1, "not a semicolon-separated header: 'MD5,SHA1,Image ID'"),
        (b"MD5;Image ID\n", 1, "no MD5 and SHA1 columns in the header row 'MD5;Image ID'"),
        (
            b"MD5;SHA1;Series name\n",
            1,
            "no 'Image ID' or 'Baseline' column: not an ICSE baseline list",
        ),
        (
            f"{MD5[0]};{SHA1[0]};1\n".encode(),
            1,
            f"no MD5 and SHA1 columns in the header row '{MD5[0]};{SHA1[0]};1'",
        ),
    ],
)
def test_a_bad_header_means_not_icse(
    read: Reader, data: bytes, line: int | None, reason: str
) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(IcseAdapter, data)
    assert (raised.value.line, raised.value.reason) == (line, reason)


class TestSniff:
    """ICSE is known by its header row."""

    @pytest.mark.parametrize(
        "head",
        [
            HEADER.encode(),
            (HEADER + "\r\n").encode(),
            codecs.BOM_UTF8 + HEADER.encode(),
            codecs.BOM_UTF16_LE + (HEADER + "\r\n").encode("utf-16-le"),
            b"\n" + HEADER.encode(),
            b"md5;sha1;baseline\n",
            b'"MD5";"SHA1";"Image ID"\n',
        ],
    )
    def test_icse_heads(self, head: bytes) -> None:
        assert IcseAdapter.sniff(head)

    @pytest.mark.parametrize(
        "head",
        [
            b"",
            b"MD5,SHA1,SHA256,Size,Path,Category\n",
            b"MD5;SHA1;Path\n",
            b"MD5;File Name;File Size\n",
            HEADER.replace(";", ",").encode(),
            b"V3Hash,HashSHA1,FileName,FilePath,FileSize,HashSHA256,HashSHA384,HashSHA512\n",
            b'"MD5;SHA1;Image ID"\n',
            b"<queryResult>",
        ],
    )
    def test_other_heads(self, head: bytes) -> None:
        assert not IcseAdapter.sniff(head)


# --- round trip -------------------------------------------------------------------------

ROLES = [
    "photodna",
    "imageid",
    "isdistributed",
    "victimidentified",
    "offenderidentified",
    "seriesname",
    "numberofsubmissions",
    "fileavailable",
    "mediatype",
    "baseline",
]
SPELLINGS = {
    "md5": ["MD5", "md5"],
    "sha1": ["SHA1", "Sha1"],
    "photodna": ["PhotoDNA", "PHOTODNA"],
    "imageid": ["Image ID", "ImageID", "image id"],
    "isdistributed": ["Is distributed", "IsDistributed"],
    "victimidentified": ["Victim identified", "VICTIM IDENTIFIED"],
    "offenderidentified": ["Offender identified", "OffenderIdentified"],
    "seriesname": ["Series name", "SeriesName"],
    "numberofsubmissions": ["Number of submissions", "NumSubmissions"],
    "fileavailable": ["File Available", "FileAvailable"],
    "mediatype": ["Media Type", "MediaType"],
    "baseline": ["Baseline", "BASELINE"],
}
FLAG_WORDS = {True: ["yes", "Yes", "TRUE", "true", "1"], False: ["no", "NO", "False", "0"]}
FLAG_LABELS = {
    "isdistributed": "distributed",
    "victimidentified": "victim_identified",
    "offenderidentified": "offender_identified",
    "fileavailable": "icse_file_available",
}
FREE_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r\x00"),
    max_size=12,
)

Row = dict[str, Any]


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[str], list[Row]]:
    """Column roles, their header names, and rows of values (None for an empty cell)."""
    marker = draw(st.sampled_from([["imageid"], ["baseline"], ["imageid", "baseline"]]))
    others = draw(st.lists(st.sampled_from(ROLES), unique=True))
    roles = draw(st.permutations(["md5", "sha1", *dict.fromkeys(marker + others)]))
    header = [draw(st.sampled_from(SPELLINGS[role])) for role in roles]
    rows = []
    for _ in range(draw(st.integers(0, 5))):
        row: Row = {
            "md5": draw(hex_digests(Algorithm.MD5)),
            "sha1": draw(st.none() | hex_digests(Algorithm.SHA1)),
            "photodna": draw(st.none() | st.from_regex(r"[A-Za-z0-9+/]{4,40}=?", fullmatch=True)),
            "imageid": draw(st.none() | FREE_TEXT),
            "seriesname": draw(st.none() | FREE_TEXT),
            "mediatype": draw(st.none() | st.sampled_from(["Image", "Video", "Média"])),
            "numberofsubmissions": draw(st.none() | st.integers(0, 10**6)),
            "baseline": draw(st.none() | st.sampled_from(["Baseline", "true", "0", "x"])),
        }
        for role in FLAG_LABELS:
            flag = draw(st.none() | st.booleans())
            row[role] = (
                (flag, draw(st.sampled_from(FLAG_WORDS[flag]))) if flag is not None else None
            )
        if draw(st.booleans()):
            row["md5"], row["sha1"] = None, draw(hex_digests(Algorithm.SHA1))
        rows.append(row)
    return roles, header, rows


def cell(role: str, value: Any) -> str:
    if value is None:
        return ""
    if role in FLAG_LABELS:
        return str(value[1])
    return str(value)


def render(roles: list[str], header: list[str], rows: list[Row], newline: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator=newline)
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(role, row[role]) for role in roles])
    return out.getvalue()


def expected(roles: list[str], row: Row) -> dict[str, Any]:
    def text(role: str) -> str | None:
        value = row[role] if role in roles else None
        return (str(value).strip() or None) if value is not None else None

    labels: dict[str, Any] = {
        "scheme": "interpol",
        "source_id": text("imageid"),
        "series": text("seriesname"),
        "icse_media_type": text("mediatype"),
        "category": text("baseline"),
    }
    if labels["category"] in ("true", "0"):
        labels["icse_baseline"] = labels["category"] == "true"
    if "numberofsubmissions" in roles and row["numberofsubmissions"] is not None:
        labels["confirmations"] = row["numberofsubmissions"]
    if "photodna" in roles and row["photodna"] is not None:
        labels["perceptual"] = [f"photodna:{row['photodna']}"]
    for role, label in FLAG_LABELS.items():
        if role in roles and row[role] is not None:
            labels[label] = row[role][0]
    return {k: v for k, v in labels.items() if v is not None}


@given(
    table=tables(),
    newline=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
@example(
    table=(["md5", "sha1", "imageid"], ["MD5", "SHA1", "Image ID"], []),
    newline="\n",
    encoding="utf-8",
)
@example(
    table=(
        ["baseline", "sha1", "md5", "seriesname"],
        ["Baseline", "SHA1", "MD5", "Series name"],
        [
            {
                "md5": MD5[0],
                "sha1": SHA1[0].lower(),
                "seriesname": 'a;"b"\nc',
                "baseline": "true",
            }
        ],
    ),
    newline="\r\n",
    encoding="utf-8-sig",
)
def test_round_trip(
    read: Reader, table: tuple[list[str], list[str], list[Row]], newline: str, encoding: str
) -> None:
    roles, header, rows = table
    text = render(roles, header, rows, newline)
    rows_read, context = rows_of(read, text.encode(encoding), strict=True)
    # Each row starts on the line after the previous one ends (a quoted newline spans two).
    lines, number = [], 2
    for row in rows:
        lines.append(number)
        number += 1 + sum(str(row.get(role) or "").count("\n") for role in roles)
    assert [(r["line"], r["md5"], r["sha1"], r["labels"]) for r in rows_read] == [
        (line, row["md5"], row.get("sha1"), expected(roles, row))
        for line, row in zip(lines, rows, strict=True)
    ]
    assert context.warning_count == 0
