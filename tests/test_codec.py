"""Documents are kept compressed; rows written with zlib before Zstandard still read."""

from __future__ import annotations

import zlib

from hypothesis import given
from hypothesis import strategies as st

from tracker.codec import pack, unpack


@given(st.binary(max_size=5000))
def test_what_is_packed_unpacks(content: bytes) -> None:
    assert unpack(pack(content)) == content


def test_a_zlib_row_of_an_earlier_version_still_reads() -> None:
    content = b'{"idweb": "21-6545"}' * 50
    assert unpack(zlib.compress(content, 1)) == content
    assert len(pack(content)) < len(content)
