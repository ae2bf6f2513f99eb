"""Hostile XML to the dict shape BOAMP's OpenDataSoft JSON uses.

The ODS ``gestion``/``donnees`` JSON is DILA's XML converted with these conventions, so converting
the XML the same way lets one parser read both:

* an empty element becomes ``""``; an element with only text becomes its text;
* attributes become ``"@name"`` keys, text beside attributes or children becomes ``"#text"``;
* a repeated element becomes a list (only when it repeats);
* namespaced eForms/UBL elements keep their conventional prefix (``cbc:ID``, ``efac:Changes``), whatever
  prefix or namespace URI the document uses (the DILA flux rebases UBL on ``urn:boamp:…``).

Parsing never resolves entities, never touches the network and refuses huge trees.
"""

from __future__ import annotations

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


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse_xml(data: bytes) -> etree._Element:
    """Parse untrusted XML bytes; raise ParseError with the reason."""
    if len(data) > MAX_XML_BYTES:
        raise ParseError(f"XML document too large ({len(data)} bytes > {MAX_XML_BYTES})")
    if b"<!ENTITY" in data[:4096]:
        raise ParseError("XML document declares entities; refused")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"malformed XML: {exc}") from exc
    if root is None:
        raise ParseError("empty XML document")
    return root


def _prefix_for(uri: str, source_prefix: str | None) -> str | None:
    for suffix, prefix in _NS_SUFFIX.items():
        if uri.endswith(suffix):
            return prefix
    return source_prefix


#: (Clark tag, source prefix) -> conventional name; a few hundred distinct tags per format, bounded anyway
_TAG_NAMES: dict[tuple[str, str | None], str] = {}
_ATTR_NAMES: dict[str, str] = {}
_NAME_CACHE_LIMIT = 10_000


def tag_name(el: etree._Element) -> str:
    key = (el.tag, el.prefix)
    name = _TAG_NAMES.get(key)
    if name is None:
        name = _tag_name(el)
        if len(_TAG_NAMES) < _NAME_CACHE_LIMIT:
            _TAG_NAMES[key] = name
    return name


def _tag_name(el: etree._Element) -> str:
    qname = etree.QName(el)
    if qname.namespace is None:
        return str(qname.localname)
    prefix = _prefix_for(qname.namespace, el.prefix)
    # root elements of UBL documents (ContractNotice…) carry the default namespace: keep the local name
    return f"{prefix}:{qname.localname}" if prefix else str(qname.localname)


def _attr_name(key: str) -> str:
    name = _ATTR_NAMES.get(key)
    if name is None:
        qname = etree.QName(key)
        xsi = qname.namespace and qname.namespace.endswith("XMLSchema-instance")
        name = f"@xsi:{qname.localname}" if xsi else f"@{qname.localname}"
        if len(_ATTR_NAMES) < _NAME_CACHE_LIMIT:
            _ATTR_NAMES[key] = name
    return name


def element_to_obj(el: etree._Element) -> Any:
    children = [c for c in el if isinstance(c.tag, str)]
    attrs = {_attr_name(key): value for key, value in el.attrib.items()}
    text = (el.text or "").strip()
    if not children and not attrs:
        return text
    out: dict[str, Any] = dict(attrs)
    listed: set[str] = set()
    for child in children:
        name = tag_name(child)
        value = element_to_obj(child)
        if name in out:
            existing = out[name]
            if name in listed:
                existing.append(value)
            else:
                out[name] = [existing, value]
                listed.add(name)
        else:
            out[name] = value
    if text:
        out["#text"] = text
    return out


def xml_to_dict(data: bytes) -> tuple[str, Any]:
    """Return the root's name and its content as a dict."""
    root = parse_xml(data)
    return tag_name(root), element_to_obj(root)
