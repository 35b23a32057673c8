"""The shared strategies in ``tests/strategies.py`` draw what they promise."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import (
    HEX_CASES,
    algorithm_hex,
    digest_bytes,
    file_names,
    file_sizes,
    hex_digests,
)

from hashmatch.digests import Algorithm, parse_digest


@given(st.data())
def test_digest_bytes_have_the_algorithms_width(data: st.DataObject) -> None:
    algorithm = data.draw(st.sampled_from(list(Algorithm)))
    assert len(data.draw(digest_bytes(algorithm))) == algorithm.width


@given(algorithm_hex())
def test_hex_digests_parse_as_their_algorithm(pair: tuple[Algorithm, str]) -> None:
    algorithm, text = pair
    assert len(text) == algorithm.hex_length
    assert parse_digest(text).algorithm is algorithm


@pytest.mark.parametrize("case", HEX_CASES)
@given(data=st.data())
def test_hex_digests_keep_to_the_case_asked_for(case: str, data: st.DataObject) -> None:
    text = data.draw(hex_digests(Algorithm.SHA256, case=case))
    if case == "lower":
        assert text == text.lower()
    elif case == "upper":
        assert text == text.upper()
    assert set(text.lower()) <= set(string.hexdigits.lower())


@given(st.data())
def test_hex_digests_refuse_an_unknown_case(data: st.DataObject) -> None:
    with pytest.raises(ValueError, match="case must be one of"):
        data.draw(hex_digests(Algorithm.MD5, case="title"))


@given(file_names(commas=False, backslashes=False, spaces=False, quotes=False, exclude=";"))
def test_file_names_leave_out_what_is_excluded(name: str) -> None:
    assert not set(name) & set(",\\ \t\"';\n\r\x00")
    assert name


@given(file_names(newlines=True, carriage_returns=True, unicode=False, max_size=5))
def test_ascii_file_names_are_printable_or_line_breaks(name: str) -> None:
    assert set(name) <= set(string.printable) - {"\x0b", "\x0c"}


def test_file_names_can_hold_every_awkward_character_asked_for() -> None:
    seen: set[str] = set()
    strategy = file_names(newlines=True, carriage_returns=True, unicode=False, max_size=40)

    # derandomised: whether every character turns up must not depend on the run's seed
    @settings(derandomize=True, max_examples=200, database=None)
    @given(strategy)
    def collect(name: str) -> None:
        seen.update(name)

    collect()
    assert {",", " ", "\\", "\n", "\r", '"'} <= seen


@given(file_sizes())
def test_file_sizes_fit_a_signed_64_bit_column(size: int) -> None:
    assert 0 <= size < 2**63
