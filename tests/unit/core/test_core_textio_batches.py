"""``iter_line_batches`` yields exactly what ``iter_lines`` yields, in batches."""

from __future__ import annotations

import io

from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.textio import iter_line_batches, iter_lines

PIECES = st.lists(st.sampled_from([b"a", b"b", b"\r", b"\n", b"\xe9", b"\r\n", b"\xef\xbb\xbf"]))


@given(
    data=PIECES.map(b"".join),
    batch_size=st.integers(1, 5),
    chunk_bytes=st.integers(1, 9),
)
@example(data=b"a\n", batch_size=1, chunk_bytes=3)
@example(data=b"\xef\xbb\xbfa\r\nb", batch_size=2, chunk_bytes=1)
@example(data="x\ny\n".encode("utf-16"), batch_size=1, chunk_bytes=2)
@example(data=b"", batch_size=1, chunk_bytes=1)
def test_batches_are_the_lines(data: bytes, batch_size: int, chunk_bytes: int) -> None:
    expected = [line for _, line in iter_lines(io.BytesIO(data))]
    got: list[str] = []
    for first, lines in iter_line_batches(
        io.BytesIO(data), batch_size=batch_size, chunk_bytes=chunk_bytes
    ):
        assert first == len(got) + 1
        assert 0 < len(lines) <= batch_size
        got.extend(lines)
    assert got == expected
