"""Hostile XML to the dict shape BOAMP's OpenDataSoft JSON uses.

The ODS ``gestion``/``donnees`` JSON is DILA's XML converted with these conventions, so converting
the XML the same way lets one parser read both:

* an empty element becomes ``""``; an element with only text becomes its text;
* attributes become ``"@name"`` keys, text beside attributes or children becomes ``"#text"``;
* a repeated element becomes a list (only when it repeats);
* namespaced eForms/UBL elements keep their conventional prefix (``cbc:ID``, ``efac:Changes``), whatever
  prefix or namespace URI the document uses (the DILA flux rebases UBL on ``urn:boamp:…``).

Parsing never expands a declared entity, never reads a DTD, never touches the network and refuses huge
trees before building them (:func:`check_xml`, also used for feeds and pages parsed by other libraries).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from lxml import etree

from tracker.exceptions import ParseError

MAX_XML_BYTES = 32 * 1024 * 1024

# namespace URI suffix -> conventional prefix
_NS_SUFFIX = {
    "CommonAggregateComponents-2": "cac",
    "CommonBasicComponents-2": "cbc",
    "CommonExtensionComponents-2": "ext",
    "EformsExtensionAggregateComponents-1": "efac",
    "EformsExtensionBasicComponents-1": "efbc",
    "EformsExtensionApex-1": "efext",
    "eforms-ubl-extension-aggregate-components/1": "efac",
    "eforms-ubl-extension-basic-components/1": "efbc",
    "eforms-ubl-extensions/1": "efext",
}


#: markup bounds checked on the bytes before any parser runs: every element, comment or declaration starts with
#: "<" and every attribute needs "=", so these counts bound what a parser would build (a 31 MB flood of tiny
#: elements is refused before it costs memory); libxml2 itself caps depth at 256 without ``huge_tree``
MAX_XML_MARKUP = 300_000
MAX_XML_ATTRIBUTES = 600_000
_LOCAL = threading.local()
_UTF8_BOM = b"\xef\xbb\xbf"
#: what may precede the root element or a DOCTYPE: XML declaration, processing instructions, comments, space
_PROLOG = re.compile(rb"(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.S)


def check_markup(data: bytes, what: str = "XML document", limit: int = MAX_XML_BYTES) -> None:
    """Refuse, before parsing, what is too large or has too many elements or attributes to build safely."""
    if len(data) > limit:
        raise ParseError(f"{what} too large ({len(data)} bytes > {limit})")
    if data.count(b"<") > MAX_XML_MARKUP:
        raise ParseError(f"{what} has too many elements (more than {MAX_XML_MARKUP} tags); refused")
    if data.count(b"=") > MAX_XML_ATTRIBUTES:
        raise ParseError(f"{what} has too many attributes (more than {MAX_XML_ATTRIBUTES}); refused")


def doctype_of(data: bytes) -> bytes | None:
    """The DOCTYPE declaration's opening (up to its first ``>``) when the prolog has one; ``b""`` when the
    encoding is not ASCII-compatible (UTF-16/32: the prolog cannot be read as bytes); else None."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]:
        return b""
    start = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    match = _PROLOG.match(data, start)
    end = match.end() if match else start
    if not data.startswith(b"<!DOCTYPE", end):
        return None
    close = data.find(b">", end)
    return data[end : close + 1 if close >= 0 else len(data)]


def check_xml(
    data: bytes, what: str = "XML document", limit: int = MAX_XML_BYTES, *, external_dtd: bool = False
) -> bool:
    """Bounds (:func:`check_markup`), no entity declaration, and no external DTD unless ``external_dtd`` (a
    feed's ``<!DOCTYPE rss PUBLIC …>``, which feedparser never loads). True when the document has no DTD at all
    (nothing to resolve: the fast parser may run), False when it must go through the entity-free one."""
    check_markup(data, what, limit)
    doctype = doctype_of(data)
    if doctype is None:
        return True
    if b"[" in doctype or b"<!ENTITY" in data[: len(doctype) + 65536]:
        raise ParseError(f"{what} declares a DTD internal subset or entities; refused")
    if not external_dtd and (b"SYSTEM" in doctype or b"PUBLIC" in doctype):
        raise ParseError(f"{what} refers to an external DTD; refused")
    return False


def _parser(no_dtd: bool) -> etree.XMLParser:
    """One parser of each kind per thread (an lxml parser is not to be shared between threads; building one
    costs). Neither loads a DTD or touches the network; a document with no DTD has no entity to expand, so it
    gets the faster parser that resolves only the predefined ones; any other keeps references unexpanded."""
    name = "fast" if no_dtd else "safe"
    parser: etree.XMLParser | None = getattr(_LOCAL, name, None)
    if parser is None:
        parser = _new_parser("internal" if no_dtd else False)
        setattr(_LOCAL, name, parser)
    return parser


def _new_parser(resolve: Any) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=resolve,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse_xml(data: bytes) -> etree._Element:
    """Parse untrusted XML bytes (bounded size and markup, no DTD internal subset, no entity expansion, no
    network, depth capped by libxml2); raise ParseError with the reason."""
    no_dtd = check_xml(data)
    try:
        root = etree.fromstring(data, parser=_parser(no_dtd))
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"malformed XML: {exc}") from exc
    if root is None:
        raise ParseError("empty XML document")
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):  # an encoding the byte check cannot read
        raise ParseError("XML document declares entities; refused")
    return root


def _prefix_for(uri: str, source_prefix: str | None) -> str | None:
    for suffix, prefix in _NS_SUFFIX.items():
        if uri.endswith(suffix):
            return prefix
    return source_prefix


#: Clark tag -> conventional name when the prefix does not matter (no namespace, or a known one); else
#: (Clark tag, source prefix) -> name. A few hundred distinct tags per format, bounded anyway.
_CLARK_NAMES: dict[str, str] = {}
_TAG_NAMES: dict[tuple[str, str | None], str] = {}
_ATTR_NAMES: dict[str, str] = {}
_NAME_CACHE_LIMIT = 10_000

#: which elements to convert: name -> what to keep below it (None: the whole subtree)
Keep = Mapping[str, "Keep | None"]


def tag_name(el: etree._Element) -> str:
    tag = el.tag
    name = _CLARK_NAMES.get(tag)
    if name is not None:
        return name
    key = (tag, el.prefix)
    name = _TAG_NAMES.get(key)
    if name is None:
        name, prefix_free = _tag_name(el)
        cache = _CLARK_NAMES if prefix_free else _TAG_NAMES
        if len(cache) < _NAME_CACHE_LIMIT:
            if prefix_free:
                _CLARK_NAMES[tag] = name
            else:
                _TAG_NAMES[key] = name
    return name


def _tag_name(el: etree._Element) -> tuple[str, bool]:
    """The conventional name, and whether it holds whatever prefix the document gives the namespace."""
    qname = etree.QName(el)
    if qname.namespace is None:
        return str(qname.localname), True
    known = _prefix_for(qname.namespace, None)
    prefix = known or el.prefix
    # root elements of UBL documents (ContractNotice…) carry the default namespace: keep the local name
    return (f"{prefix}:{qname.localname}" if prefix else str(qname.localname)), known is not None


def _attr_name(key: str) -> str:
    name = _ATTR_NAMES.get(key)
    if name is None:
        qname = etree.QName(key)
        xsi = qname.namespace and qname.namespace.endswith("XMLSchema-instance")
        name = f"@xsi:{qname.localname}" if xsi else f"@{qname.localname}"
        if len(_ATTR_NAMES) < _NAME_CACHE_LIMIT:
            _ATTR_NAMES[key] = name
    return name


def _attrs(items: list[tuple[str, str]]) -> dict[str, Any]:
    return {(_ATTR_NAMES.get(key) or _attr_name(key)): value for key, value in items}


def _add(out: dict[str, Any], listed: set[str], name: str, value: Any) -> None:
    """Add a child's value: a second one with the same name makes a list (only then)."""
    if name not in out:
        out[name] = value
    elif name in listed:
        out[name].append(value)
    else:
        out[name] = [out[name], value]
        listed.add(name)


def element_to_obj(el: etree._Element, keep: Keep | None = None) -> Any:
    """``el`` in the dict shape; with ``keep``, only the elements it names are converted (the others are
    skipped as if absent, but an element that had children stays a dict, so shapes do not change).

    Comments and processing instructions are removed by the parser and entities refused, so every child is an
    element (the rare other node is skipped all the same)."""
    items = el.items()
    text = el.text
    if text:
        text = text.strip()
    if not len(el):  # a leaf: most elements
        if not items:
            return text or ""
        leaf = _attrs(items)
        if text:
            leaf["#text"] = text
        return leaf
    out: dict[str, Any] = _attrs(items) if items else {}
    listed: set[str] = set()
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        name = _CLARK_NAMES.get(tag) or tag_name(child)
        if keep is None:
            _add(out, listed, name, element_to_obj(child))
        elif name in keep:
            _add(out, listed, name, element_to_obj(child, keep[name]))
    if text:
        out["#text"] = text
    return out


def xml_to_dict(data: bytes, keep: Keep | None = None) -> tuple[str, Any]:
    """Return the root's name and its content as a dict (only what ``keep`` names below the root, if given)."""
    root = parse_xml(data)
    return tag_name(root), element_to_obj(root, keep)
