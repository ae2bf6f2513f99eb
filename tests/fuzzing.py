"""Structure-aware mutations of corpus documents, for every parser of the registry (issue 10 point 10).

A seed is a real document (BOAMP ODS records of every schema, the DILA API record, DILA XML, eForms XML, TED
search results, buyer-platform pages, feed items, BOAMP texts); a mutation reads it as a tree (JSON, XML or
lines) and changes a few nodes: types swapped, lists and strings exchanged, numbers huge or not numbers, nesting
deep, texts hostile (control characters, bidi overrides, NUL, lone surrogates, 100,000 characters), elements
duplicated or dropped; JSON held in a string (``gestion``, ``donnees``) is mutated as JSON. :func:`check` parses a
mutant as the pipeline does and says what went wrong: an exception other than ParseError (a parser bug), a
snapshot the store could not write, a hang (``TimeoutError`` from an alarm), or none.
"""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
from lxml import etree

from tests import shared_dir
from tracker.db import _json_dumps
from tracker.documents import Document
from tracker.exceptions import ParseError
from tracker.notice import snapshot_record
from tracker.parse import parse_document
from tracker.parse.base import FEED_ITEM, TED_SEARCH_RESULT
from tracker.reader import documents_from_file

HOSTILE_TEXT = [
    "\x00",
    "a\x00b",
    "\x1b[2J\x1b]0;title\x07",
    "\u202etxet\u202c",
    "\u009b31m",
    "x" * 100_000,
    "é" * 5000,
    "😀",
    "",
    " ",
    "\n\r\t",
    "<![CDATA[x]]>",
    "&amp;&#0;&#x1b;",
    "27/01/2021 → 03/02/2021",
    "Au lieu de : 27/01/2021 Lire : 03/02/2021",
    "2021-02-30T25:61:00+99:00",
    "9999-12-31",
    "0000-00-00",
    "P99999999Y",
    "NaN",
    "Infinity",
    "1e999999999",
    "-0",
    "1" * 400,
]
RAW_NUMBERS = ["1e999", "-1e999", "1e999999999", "1" * 5000, "NaN", "Infinity", "-Infinity", "1e-999999", "0.1e309"]
#: JSON literals no Python value writes: lone surrogates, escaped NUL and escape characters
RAW_STRINGS = ['"\\ud800"', '"a\\udc00b"', '"\\u0000"', '"\\u001b[2J"']
_RAW = "\ufdd0raw{}\ufdd0"


@dataclass(frozen=True)
class Seed:
    name: str
    document: Document


def _docs(path: Path, limit: int) -> Iterator[Document]:
    for i, doc in enumerate(documents_from_file(path)):
        if i >= limit:
            return
        if isinstance(doc, Document):
            yield doc


def seeds() -> list[Seed]:
    """The seed documents: a few of each format the corpus holds (nothing is copied: read in place)."""
    corpus = shared_dir() / "corpus"
    out: list[Seed] = []
    json_files = [
        *sorted((corpus / "boamp_ods_api" / "chains").glob("*.json"))[:12],
        corpus / "boamp_ods_api" / "gigalis_500_reconstructed_as_v21_results.json",
        corpus / "boamp_ods_api" / "ods_v21_response_2006_legacy_v110_20records__BOAMP_favoris.json",
        corpus / "boamp_ods_eforms_era" / "stage_2025_p001_first_record_24-145775_EFORMS_ATTRIBUTION.json",
        *sorted((corpus / "boamp_dila_api_legacy_json").glob("*.json")),
    ]
    for path in json_files:
        if path.exists():
            out += [Seed(f"{path.name}#{i}", d) for i, d in enumerate(_docs(path, 8))]
    xml_files = [
        *sorted((corpus / "boamp_dila_xml").glob("*.xml")),
        *sorted((corpus / "boamp_dila_flux_2026").glob("*.xml")),
        *sorted((corpus / "eforms_sdk_examples").glob("*.xml"))[:20],
        *sorted((corpus / "ted_eforms_real").glob("*.xml"))[:6],
    ]
    out += [Seed(p.name, Document("fuzz", p.name, p.read_bytes(), "application/xml")) for p in xml_files]
    out += [
        Seed(p.name, Document("platform", p.name, p.read_bytes(), "text/html"))
        for p in sorted((corpus / "buyer_platform_pages").glob("*.html"))
    ]
    ted = corpus / "ted_api_json" / "ted_v3_search_response_SE_2026-07-01__tender-scan_fixture.json"
    if ted.exists():
        for i, notice in enumerate(json.loads(ted.read_text()).get("notices", [])[:5]):
            out.append(Seed(f"ted_search#{i}", Document("ted", f"ted#{i}", orjson.dumps(notice), TED_SEARCH_RESULT)))
    feed_item = {
        "title": "Avis rectificatif 21-6545",
        "link": "https://www.boamp.fr/avis/detail/21-6545",
        "summary": "Date limite de réception des offres : 03/02/2021",
        "published": "2021-01-17T10:00:00Z",
        "id": "21-6545",
    }
    out.append(Seed("feed_item", Document("feed", "feed#1", orjson.dumps(feed_item), FEED_ITEM)))
    for path in sorted((shared_dir() / "seeds").glob("*.txt"))[:6]:
        out.append(Seed(path.name, Document("docs", path.name, path.read_bytes(), "text/plain")))
    return out


# ------------------------------------------------------------------ JSON


def _hostile_scalar(rng: random.Random, raws: list[str]) -> Any:
    pick = rng.random()
    if pick < 0.35:
        return rng.choice(HOSTILE_TEXT)
    if pick < 0.6:
        raws.append(rng.choice(RAW_NUMBERS + RAW_STRINGS))
        return _RAW.format(len(raws) - 1)
    return rng.choice([None, True, False, 0, -1, 2**63, 10**30, 1e308, 1e-308, 0.5, [], {}])


def _deep(rng: random.Random, depth: int) -> Any:
    value: Any = rng.choice(["x", 1, None])
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"a": value}
    return value


def _mutate_value(value: Any, rng: random.Random, raws: list[str]) -> Any:
    op = rng.randrange(9)
    if op == 0:
        return _hostile_scalar(rng, raws)
    if op == 1:  # a list and a string exchanged, an object as a list
        if isinstance(value, list):
            return " ".join(map(str, value))
        if isinstance(value, dict):
            return list(value.values())
        return [value, value]
    if op == 2:
        return _deep(rng, rng.choice([10, 100, 300, 1100, 3000]))
    if op == 3:
        return {"#text": value, "@DEVISE": rng.choice(HOSTILE_TEXT)}
    if op == 4 and isinstance(value, list) and len(json.dumps(value, default=str)) < 20_000:
        return value * rng.choice([2, 50, 1000])  # at most 20 MB: the reader refuses larger records anyway
    if op == 5 and isinstance(value, str):  # JSON held in a string: mutated as JSON
        try:
            inner = json.loads(value)
        except ValueError:
            return value + rng.choice(HOSTILE_TEXT)
        return _dumps(_mutate_tree(inner, rng, raws), raws)
    if op == 6 and isinstance(value, dict):
        return {}
    if op == 7:
        return str(value) if not isinstance(value, str) else rng.choice([1, 1.5, None, [value], {"x": value}])
    return _hostile_scalar(rng, raws)


def _nodes(tree: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree[:50]):
            yield from _nodes(v, (*path, i))


def _mutate_tree(tree: Any, rng: random.Random, raws: list[str]) -> Any:
    for _ in range(rng.choice([1, 1, 2, 3, 6])):
        paths = list(_nodes(tree))
        path = rng.choice(paths)
        if not path:
            tree = _mutate_value(tree, rng, raws)
            continue
        parent = tree
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and rng.random() < 0.1:
            parent[rng.choice(HOSTILE_TEXT[:6])] = parent.pop(path[-1])
        else:
            parent[path[-1]] = _mutate_value(parent[path[-1]], rng, raws)
    return tree


def _dumps(tree: Any, raws: list[str]) -> str:
    try:
        text = json.dumps(tree, ensure_ascii=False)
    except (RecursionError, ValueError):
        return "[" * 2000 + "]" * 2000
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(_RAW.format(i)), raw)
    return text


def mutate_json(content: bytes, rng: random.Random) -> bytes:
    tree = json.loads(content)
    raws: list[str] = []
    return _dumps(_mutate_tree(tree, rng, raws), raws).encode("utf-8", "surrogatepass")


# ------------------------------------------------------------------ XML / HTML

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)
_HTML = etree.HTMLParser(no_network=True)


def _xml_text(rng: random.Random) -> str:
    text = rng.choice([*HOSTILE_TEXT, *RAW_NUMBERS])
    return "".join(
        c for c in text if c in "\t\n\r" or (c >= " " and c not in "\ufffe\uffff" and not 0xD800 <= ord(c) <= 0xDFFF)
    )


#: bytes one duplication may add, and the largest mutant (above every parser's own size limit)
_MAX_COPIED = 4 * 1024 * 1024
MAX_MUTANT = 48 * 1024 * 1024


def mutate_xml(content: bytes, rng: random.Random, *, html: bool = False) -> bytes:
    root = etree.fromstring(content, _HTML if html else _PARSER)
    if root is None:
        return content
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    for _ in range(rng.choice([1, 2, 3, 8])):
        el = rng.choice(elements)
        op = rng.randrange(7)
        parent = el.getparent()
        if op == 0:
            el.text = _xml_text(rng)
        elif op == 1 and parent is not None:
            piece = etree.tostring(el)
            # copies bounded in bytes: repeated duplication of a large element grows without end otherwise, and
            # the parsers refuse far smaller inputs (what is tested is their refusal, not the mutator's memory)
            for _ in range(min(rng.choice([2, 30, 500]), max(1, _MAX_COPIED // max(1, len(piece))))):
                parent.append(etree.fromstring(piece))
        elif op == 2 and parent is not None:
            parent.remove(el)
        elif op == 3:
            node = el
            for _ in range(rng.choice([20, 200])):
                node = etree.SubElement(node, el.tag)
            node.text = _xml_text(rng)
        elif op == 4:
            el.set("currencyID" if rng.random() < 0.5 else "languageID", _xml_text(rng))
        elif op == 5 and parent is not None:
            other = rng.choice(elements)
            if other is not el and other.getparent() is not None and el not in other.iterancestors():
                el.tag, other.tag = other.tag, el.tag
        else:
            for child in list(el):
                el.remove(child)
            el.text = _xml_text(rng)
    return etree.tostring(root, encoding="utf-8")


# ------------------------------------------------------------------ the harness


def mutate(seed: Seed, rng: random.Random) -> Document:
    doc = seed.document
    content = doc.content
    try:
        if content.lstrip()[:1] in (b"{", b"["):
            content = mutate_json(content, rng)
        elif content.lstrip()[:1] == b"<":
            content = mutate_xml(content, rng, html=doc.media_type == "text/html")
        else:
            lines = content.split(b"\n")
            for _ in range(rng.choice([1, 3])):
                i = rng.randrange(len(lines))
                lines[i] = _xml_text(rng).encode() if rng.random() < 0.7 else lines[i] * 50
            content = b"\n".join(lines)
    except (ValueError, etree.LxmlError, RecursionError):
        content = content[: rng.randrange(1, max(2, len(content)))]
    return replace(doc, content=content[:MAX_MUTANT], _sha=[])


@dataclass(frozen=True)
class Outcome:
    error: str | None  # None: read, or refused with a ParseError
    seconds: float


def _alarm(_signum: int, _frame: Any) -> None:
    raise TimeoutError("input took too long")


def check(document: Document, *, timeout: float = 10.0) -> Outcome:
    """Parse a mutant as the pipeline does; an error other than a ParseError, or a snapshot the store cannot
    write, is reported; so is a hang (``timeout`` seconds)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    started = time.perf_counter()
    try:
        from tracker.parse import bounded

        for snap in bounded(document, parse_document(document)):
            _json_dumps(snapshot_record(snap))  # as the store writes the notice's record
        error = None
    except ParseError:
        error = None
    except RecursionError:
        error = "RecursionError"
    except Exception as exc:
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(error, time.perf_counter() - started)
