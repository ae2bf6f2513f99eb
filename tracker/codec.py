"""How raw documents are kept: compressed with Zstandard (level 1), the older rows with zlib.

A stored document is read back to re-derive its notices (``tracker reparse``, the workers); both frame kinds are
recognised by their first bytes, so a database written before the change reads as it did.
"""

from __future__ import annotations

import zlib
from typing import Final

import zstandard

_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_COMPRESS = zstandard.ZstdCompressor(level=1)  # about three times zlib level 1's speed, the same ratio here
_DECOMPRESS = zstandard.ZstdDecompressor()

__all__ = ["pack", "unpack"]


def pack(content: bytes) -> bytes:
    """The stored form of a document's bytes."""
    return _COMPRESS.compress(content)


def unpack(stored: bytes) -> bytes:
    """A document's bytes from their stored form (Zstandard, or zlib for rows written before)."""
    if stored[:4] == _ZSTD_MAGIC:
        return _DECOMPRESS.decompress(stored)
    return zlib.decompress(stored)
