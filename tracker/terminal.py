"""The one place that makes text inert for a terminal or a message header.

Notice content, error messages and anything a server said are hostile: an escape sequence can clear the
screen, set the window title or draw a hyperlink; U+009B is a one-character CSI; a newline or U+2028 inside a
field forges a line; bidirectional overrides reorder what is read. :func:`inert` removes all of that from one
field (newlines become spaces); :func:`inert_block` keeps the line breaks of a text that has several lines by
design (a message body) and makes each line inert.
"""

from __future__ import annotations

import re
from typing import Final

#: ESC-introduced sequences: CSI (ESC [ … final), OSC/DCS/SOS/PM/APC strings up to BEL or ST, two-byte escapes
_ESCAPE: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]?"  # other escapes (charset selection, RIS…)
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # 8-bit CSI
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # 8-bit string introducers
)

#: line and paragraph breaks of every kind: a space inside a field
_BREAKS: Final = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")

#: C0 (tab kept as a space), DEL, C1, bidi embeddings/overrides/isolates/marks, zero-width and BOM characters
_INVISIBLE: Final = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def inert(text: object) -> str:
    """One field, safe to print or to put in a header: one line, no control, escape or bidi character."""
    if text is None:
        return ""
    value = _ESCAPE.sub("", str(text))
    value = _BREAKS.sub(" ", value).replace("\t", " ")
    return _INVISIBLE.sub("", value)


def inert_block(text: object) -> str:
    """A multi-line text (a message body): each line made :func:`inert`, the line breaks kept as ``\\n``."""
    if text is None:
        return ""
    value = _ESCAPE.sub("", str(text))
    return "\n".join(inert(line) for line in _BREAKS.split(value))
