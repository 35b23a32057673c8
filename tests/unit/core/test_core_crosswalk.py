"""hashmatch.crosswalk: the shipped crosswalks, user crosswalks over them, and mapping labels.

A mapped value is a suggestion beside the source's own label; these tests pin what each
shipped table suggests for each code, and that anything it cannot map goes to review.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.crosswalk import (
    CROSSWALK_FORMAT,
    DISPOSITION_SCHEME,
    IDENTITY,
    KNOWN_SCHEMES,
    SHIPPED,
    CrosswalkSet,
    load_crosswalk,
    load_crosswalks,
    shipped_crosswalk_files,
)
from hashmatch.errors import InputError
from hashmatch.labels import Scheme

SHIPPED_DIR = Path(str(resources.files("hashmatch") / "crosswalks"))

# Every code each scheme has (FORMATS.md 1.4, 2, 3.3): shipped tables must speak only these.
CODES: dict[str, set[str]] = {
    Scheme.UK: {"A", "B", "C"},
    Scheme.NCMEC: {"A1", "A2", "B1", "B2"},
    Scheme.VICS_US: {"0", "1", "2", "3", "4"},
    Scheme.VICS_LEGACY: {str(i) for i in range(6)} | {f"CAT-{i}" for i in range(6)},
    DISPOSITION_SCHEME: {"alert", "review", "ignore"},
}


@pytest.fixture(scope="module")
def shipped() -> CrosswalkSet:
    return load_crosswalks()


def write(path: Path, document: dict[str, Any] | str) -> Path:
    text = document if isinstance(document, str) else json.dumps(document, indent=2)
    path.write_text(text, "utf-8")
    return path


def crosswalk_doc(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": CROSSWALK_FORMAT,
        "from": "ncmec",
        "to": "uk",
        "version": "2-local",
        "title": "Our own reading of the NCMEC codes",
        "notes": ["local policy"],
        "map": {"A1": ["A"], "A2": ["C"], "B1": ["A"], "B2": ["C"]},
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


# -- the shipped files -------------------------------------------------------------------


def test_the_expected_crosswalks_ship() -> None:
    assert shipped_crosswalk_files() == [
        "ncmec-to-hashmatch-disposition.json",
        "ncmec-to-uk.json",
        "vics-legacy-to-vics-us.json",
        "vics-us-to-hashmatch-disposition.json",
        "vics-us-to-uk.json",
    ]
    # what the package ships is what the folder holds
    assert sorted(p.name for p in SHIPPED_DIR.glob("*.json")) == shipped_crosswalk_files()


@pytest.mark.parametrize("name", sorted(p.name for p in SHIPPED_DIR.glob("*.json")))
def test_every_shipped_file_is_a_valid_crosswalk_between_known_schemes(name: str) -> None:
    walk = load_crosswalk(SHIPPED_DIR / name)
    assert f"{walk.name}.json" == name
    assert walk.from_scheme in KNOWN_SCHEMES
    assert walk.to_scheme in KNOWN_SCHEMES
    assert walk.from_scheme in {s.value for s in Scheme}
    assert walk.version == "1"
    assert walk.title
    assert len(walk.notes) >= 3, "say why each mapping is made, and where from"
    assert any("Sources" in note for note in walk.notes)
    assert set(walk.table) <= CODES[walk.from_scheme]
    for code, targets in walk.table.items():
        assert set(targets) <= CODES[walk.to_scheme], code
    document = json.loads((SHIPPED_DIR / name).read_text("utf-8"))
    assert document["format"] == CROSSWALK_FORMAT


def test_loaded_shipped_crosswalks_say_they_are_shipped(shipped: CrosswalkSet) -> None:
    assert [c.ref for c in shipped] == [
        "ncmec-to-hashmatch-disposition@1",
        "ncmec-to-uk@1",
        "vics-legacy-to-vics-us@1",
        "vics-us-to-hashmatch-disposition@1",
        "vics-us-to-uk@1",
    ]
    assert {c.origin for c in shipped} == {SHIPPED}
    assert all(c.replaces is None and len(c.sha256) == 64 for c in shipped)
    assert shipped.targets() == ["hashmatch-disposition", "uk", "vics-us"]
    assert [c.name for c in shipped.leading_to("uk")] == ["ncmec-to-uk", "vics-us-to-uk"]


# -- what each code maps to --------------------------------------------------------------

REVIEW = None  # expected review: the mapped category is empty and a reason is given

EXPECTED = [
    ("ncmec", "A1", "uk", ["A", "B"]),
    ("ncmec", "B1", "uk", ["A", "B"]),
    ("ncmec", "A2", "uk", ["C"]),
    ("ncmec", "B2", "uk", ["C"]),
    ("vics-us", "1", "uk", ["A", "B", "C"]),
    ("vics-us", "0", "uk", REVIEW),
    ("vics-us", "2", "uk", REVIEW),
    ("vics-us", "3", "uk", REVIEW),
    ("vics-us", "4", "uk", REVIEW),
    ("vics-legacy", "CAT-1", "vics-us", ["1"]),
    ("vics-legacy", "CAT-2", "vics-us", ["2"]),
    ("vics-legacy", "CAT-3", "vics-us", ["3"]),
    ("vics-legacy", "CAT-4", "vics-us", ["4"]),
    ("vics-legacy", "CAT-5", "vics-us", ["0"]),
    ("vics-legacy", "CAT-0", "vics-us", REVIEW),
    ("vics-legacy", "1", "vics-us", ["1"]),
    ("vics-legacy", "2", "vics-us", ["2"]),
    ("vics-legacy", "3", "vics-us", ["3"]),
    ("vics-legacy", "4", "vics-us", ["4"]),
    ("vics-legacy", "5", "vics-us", ["0"]),
    ("vics-legacy", "0", "vics-us", REVIEW),
    ("vics-us", "0", DISPOSITION_SCHEME, ["ignore"]),
    ("vics-us", "1", DISPOSITION_SCHEME, ["alert"]),
    ("vics-us", "2", DISPOSITION_SCHEME, ["alert"]),
    ("vics-us", "3", DISPOSITION_SCHEME, ["review"]),
    ("vics-us", "4", DISPOSITION_SCHEME, ["ignore"]),
    ("ncmec", "A1", DISPOSITION_SCHEME, ["alert"]),
    ("ncmec", "A2", DISPOSITION_SCHEME, ["alert"]),
    ("ncmec", "B1", DISPOSITION_SCHEME, ["alert"]),
    ("ncmec", "B2", DISPOSITION_SCHEME, ["alert"]),
]


@pytest.mark.parametrize(("scheme", "code", "target", "expected"), EXPECTED)
def test_each_shipped_code_maps_as_its_notes_say(
    shipped: CrosswalkSet, scheme: str, code: str, target: str, expected: list[str] | None
) -> None:
    mapped = shipped.map({"scheme": scheme, "category": code}, target)
    assert mapped is not None
    assert mapped["scheme"] == target
    assert mapped["crosswalk"] == f"{scheme}-to-{target}@1"
    if expected is REVIEW:
        assert mapped["category"] == []
        assert mapped["review"] == f"{scheme} {code} has no equivalent in {target}"
    else:
        assert mapped["category"] == expected
        assert "review" not in mapped


def test_every_code_of_a_shipped_table_is_pinned_above(shipped: CrosswalkSet) -> None:
    pinned = {(s, c, t) for s, c, t, _ in EXPECTED}
    for walk in shipped:
        for code in walk.table:
            assert (walk.from_scheme, code, walk.to_scheme) in pinned


@pytest.mark.parametrize("code", ["C3", "Z", "A1 extra", "5"])
def test_a_code_the_table_lacks_goes_to_review_naming_the_crosswalk(
    shipped: CrosswalkSet, code: str
) -> None:
    scheme = "vics-us" if code == "5" else "ncmec"
    assert shipped.map({"scheme": scheme, "category": code}, "uk") == {
        "scheme": "uk",
        "category": [],
        "crosswalk": f"{scheme}-to-uk@1",
        "review": f"{scheme} code {code!r} is not in the crosswalk",
    }


def test_codes_written_as_integers_or_in_another_case_still_map(shipped: CrosswalkSet) -> None:
    # VICS sources write categories as numbers; some write NCMEC codes in lower case
    assert shipped.map({"scheme": "vics-us", "category": 1}, "uk") == {
        "scheme": "uk",
        "category": ["A", "B", "C"],
        "crosswalk": "vics-us-to-uk@1",
    }
    mapped = shipped.map({"scheme": "vics-us", "category": 0}, "uk")
    assert mapped is not None
    assert mapped["review"] == "vics-us 0 has no equivalent in uk"
    mapped = shipped.map({"scheme": "ncmec", "category": " b2 "}, "uk")
    assert mapped is not None
    assert mapped["category"] == ["C"]


def test_several_codes_map_to_the_union_and_any_unmapped_one_asks_for_review(
    shipped: CrosswalkSet,
) -> None:
    assert shipped.map({"scheme": "ncmec", "category": ["A2", "B1"]}, "uk") == {
        "scheme": "uk",
        "category": ["C", "A", "B"],
        "crosswalk": "ncmec-to-uk@1",
    }
    assert shipped.map({"scheme": "ncmec", "category": ["A2", "X9"]}, "uk") == {
        "scheme": "uk",
        "category": ["C"],
        "crosswalk": "ncmec-to-uk@1",
        "review": "ncmec code 'X9' is not in the crosswalk",
    }


def test_labels_already_in_the_target_scheme_map_to_themselves(shipped: CrosswalkSet) -> None:
    assert shipped.map({"scheme": "uk", "category": "B"}, "uk") == {
        "scheme": "uk",
        "category": ["B"],
        "crosswalk": IDENTITY,
    }
    # identity needs no crosswalk file, and keeps codes verbatim
    assert shipped.map({"scheme": "ncmec", "category": "a1"}, "ncmec") == {
        "scheme": "ncmec",
        "category": ["a1"],
        "crosswalk": IDENTITY,
    }


def test_a_profile_table_label_for_the_target_is_used(shipped: CrosswalkSet) -> None:
    caid = {
        "scheme": "vics-uk",
        "category": "7",
        "uk_category": "A",
        "category_table": "UK@2026-01",
    }
    assert shipped.map(caid, "uk") == {
        "scheme": "uk",
        "category": ["A"],
        "crosswalk": "category-table UK@2026-01",
    }
    # the key is "<target>_category" for any target, in snake_case
    assert shipped.map(
        {"scheme": "x", "category": "9", "hashmatch_disposition_category": ["review"]},
        DISPOSITION_SCHEME,
    ) == {
        "scheme": DISPOSITION_SCHEME,
        "category": ["review"],
        "crosswalk": "label hashmatch_disposition_category",
    }


def test_a_vics_uk_code_without_a_profile_label_goes_to_review(shipped: CrosswalkSet) -> None:
    # the UK profile's integer codes are not public: nothing ships to guess them
    assert shipped.map({"scheme": "vics-uk", "category": "7"}, "uk") == {
        "scheme": "uk",
        "category": [],
        "review": "no crosswalk from vics-uk to uk",
    }


def test_crosswalks_are_never_chained(shipped: CrosswalkSet) -> None:
    # vics-legacy -> vics-us -> uk exists in two steps, but needs its own file
    mapped = shipped.map({"scheme": "vics-legacy", "category": "CAT-1"}, "uk")
    assert mapped == {
        "scheme": "uk",
        "category": [],
        "review": "no crosswalk from vics-legacy to uk",
    }


def test_labels_without_a_scheme_go_to_review(shipped: CrosswalkSet) -> None:
    assert shipped.map({"category": "A1"}, "uk") == {
        "scheme": "uk",
        "category": [],
        "review": "the source names no category scheme, so no crosswalk applies",
    }


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {"scheme": "ncmec"},
        {"scheme": "ncmec", "category": ""},
        {"category": []},
        {"series": "s"},
    ],
)
def test_labels_without_a_category_map_to_nothing(
    shipped: CrosswalkSet, labels: dict[str, Any]
) -> None:
    assert shipped.map(labels, "uk") is None


_LABEL_VALUES = st.one_of(
    st.text(max_size=6), st.integers(-3, 9), st.booleans(), st.lists(st.text(max_size=4))
)


@given(
    scheme=st.sampled_from([*sorted(KNOWN_SCHEMES), "own-scheme"]),
    category=st.one_of(
        st.sampled_from(sorted(set().union(*CODES.values()))), st.text(max_size=5), _LABEL_VALUES
    ),
    extra=st.dictionaries(st.text(max_size=8), _LABEL_VALUES, max_size=3),
    target=st.sampled_from(["uk", "vics-us", DISPOSITION_SCHEME]),
)
def test_mapping_never_touches_the_labels_and_never_guesses(
    scheme: str, category: Any, extra: dict[str, Any], target: str
) -> None:
    crosswalks = load_crosswalks()
    labels = {**extra, "scheme": scheme, "category": category}
    before = copy.deepcopy(labels)
    mapped = crosswalks.map(labels, target)
    assert labels == before
    if mapped is None:
        return
    assert mapped["scheme"] == target
    assert "review" in mapped or mapped["category"], mapped
    walk = crosswalks.get(scheme, target)
    basis = mapped.get("crosswalk", "")
    if walk is not None and basis == walk.ref:
        allowed = {t for targets in walk.table.values() for t in targets}
        assert set(mapped["category"]) <= allowed


# -- users' own crosswalks ---------------------------------------------------------------


def test_a_user_crosswalk_overrides_the_shipped_one_and_says_so(tmp_path: Path) -> None:
    path = write(tmp_path / "mine.json", crosswalk_doc())
    crosswalks = load_crosswalks([path])
    walk = crosswalks.get("ncmec", "uk")
    assert walk is not None
    assert (walk.ref, walk.origin, walk.replaces) == (
        "ncmec-to-uk@2-local",
        str(path),
        "ncmec-to-uk@1",
    )
    assert walk.title == "Our own reading of the NCMEC codes"
    assert crosswalks.map({"scheme": "ncmec", "category": "A1"}, "uk") == {
        "scheme": "uk",
        "category": ["A"],
        "crosswalk": "ncmec-to-uk@2-local",
    }
    # the other shipped tables stay
    assert [c.ref for c in crosswalks.leading_to("uk")] == [
        "ncmec-to-uk@2-local",
        "vics-us-to-uk@1",
    ]


def test_a_folder_of_user_crosswalks_adds_new_pairs_and_targets(tmp_path: Path) -> None:
    folder = tmp_path / "crosswalks"
    folder.mkdir()
    write(
        folder / "legacy.json",
        crosswalk_doc(**{"from": "vics-legacy", "to": "uk", "map": {"CAT-1": ["A", "B", "C"]}}),
    )
    write(
        folder / "own.json",
        crosswalk_doc(
            **{"from": "ncmec", "to": "my-scheme", "notes": "one note", "map": {"A1": ["x"]}}
        ),
    )
    (folder / "README.txt").write_text("not a crosswalk", "utf-8")
    crosswalks = load_crosswalks([folder, folder / "own.json"])  # the same file twice is fine
    assert crosswalks.targets() == ["hashmatch-disposition", "my-scheme", "uk", "vics-us"]
    legacy = crosswalks.get("vics-legacy", "uk")
    assert legacy is not None
    assert legacy.replaces is None
    assert crosswalks.map({"scheme": "vics-legacy", "category": "CAT-1"}, "uk") == {
        "scheme": "uk",
        "category": ["A", "B", "C"],
        "crosswalk": "vics-legacy-to-uk@2-local",
    }
    own = crosswalks.get("ncmec", "my-scheme")
    assert own is not None
    assert own.notes == ("one note",)


def test_two_user_files_for_the_same_pair_are_refused(tmp_path: Path) -> None:
    first = write(tmp_path / "a.json", crosswalk_doc())
    second = write(tmp_path / "b.json", crosswalk_doc(version="3"))
    with pytest.raises(InputError) as caught:
        load_crosswalks([first, second])
    assert caught.value.source == str(second)
    assert f"{first} maps ncmec-to-uk already" in caught.value.reason


def test_a_missing_path_or_an_empty_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such crosswalk file or folder") as caught:
        load_crosswalks([tmp_path / "nowhere.json"])
    assert caught.value.source == str(tmp_path / "nowhere.json")
    with pytest.raises(InputError, match=r"no crosswalk file \(\*\.json\) in this folder"):
        load_crosswalks([tmp_path])


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("[]", "the file must hold one JSON object"),
        (crosswalk_doc(format="hashmatch-crosswalk/9"), "'format' must be 'hashmatch-crosswalk/1'"),
        (crosswalk_doc(version=None), "missing 'version'"),
        (crosswalk_doc(title=None, map=None), "missing 'map', 'title'"),
        (crosswalk_doc(extra=1), "unknown key(s) 'extra'"),
        (crosswalk_doc(version=2), "'version' must be non-empty text, got 2"),
        (crosswalk_doc(title="  "), "'title' must be non-empty text"),
        (crosswalk_doc(to="UK Legal"), "'to' must be a scheme name like 'vics-us', got 'UK Legal'"),
        (crosswalk_doc(to="ncmec"), "'from' and 'to' are both 'ncmec'"),
        (crosswalk_doc(notes=[1]), "'notes' must be text or a list of texts"),
        (crosswalk_doc(map={}), "'map' must be a non-empty object"),
        (crosswalk_doc(map=[["A1", "A"]]), "'map' must be a non-empty object"),
        (crosswalk_doc(map={"A1": "A"}), "'map' value for 'A1' must be a list of target codes"),
        (crosswalk_doc(map={"A1": [""]}), "'map' value for 'A1' must be a list of target codes"),
        (crosswalk_doc(map={"A1": ["A", "A"]}), "'map' value for 'A1' repeats a code"),
        (crosswalk_doc(map={"A1": ["A"], "a1": ["B"]}), "'map' has both 'A1' and 'a1'"),
        (crosswalk_doc(map={" ": ["A"]}), "'map' has an empty source code"),
    ],
)
def test_a_malformed_crosswalk_names_its_file_and_the_reason(
    tmp_path: Path, document: dict[str, Any] | str, reason: str
) -> None:
    path = write(tmp_path / "bad.json", document)
    with pytest.raises(InputError) as caught:
        load_crosswalks([path])
    assert caught.value.source == str(path)
    assert caught.value.reason.startswith("not a valid crosswalk: ")
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}: not a valid crosswalk: ")


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json", '{\n  "format": "hashmatch-crosswalk/1",\n  "from": ,\n}')
    with pytest.raises(InputError) as caught:
        load_crosswalk(path)
    assert caught.value.line == 3
    assert str(caught.value).startswith(f"{path}:3: not a valid crosswalk: not valid JSON")


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"title": "\xff"}')
    with pytest.raises(InputError, match="not UTF-8 text"):
        load_crosswalk(path)


# -- targets -----------------------------------------------------------------------------


def test_an_unknown_target_is_refused_with_the_available_ones(shipped: CrosswalkSet) -> None:
    shipped.require_target("uk")
    shipped.require_target(DISPOSITION_SCHEME)
    with pytest.raises(InputError) as caught:
        shipped.require_target("UK")
    assert caught.value.reason == (
        "no crosswalk maps to 'UK'; available targets: hashmatch-disposition, uk, vics-us"
    )
    with pytest.raises(InputError, match=r"available targets: \(none\)"):
        CrosswalkSet(()).require_target("uk")


def test_an_unknown_target_is_not_an_error_when_mapping(shipped: CrosswalkSet) -> None:
    # labels already in that scheme still map to themselves
    assert shipped.map({"scheme": "interpol", "category": "baseline"}, "interpol") == {
        "scheme": "interpol",
        "category": ["baseline"],
        "crosswalk": IDENTITY,
    }


def test_a_set_refuses_two_crosswalks_for_one_pair(shipped: CrosswalkSet) -> None:
    walk = shipped.get("ncmec", "uk")
    assert walk is not None
    with pytest.raises(InputError, match="two crosswalks for ncmec-to-uk"):
        CrosswalkSet([walk, walk])
