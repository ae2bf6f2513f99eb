"""The OpenAPI description of the JSON API (served at ``/api/openapi.json``)."""

from __future__ import annotations

from typing import Any, Final

_STR: Final = {"type": "string"}
_NULLABLE_STR: Final = {"type": ["string", "null"]}


def _param(name: str, description: str, *, where: str = "query", required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": description, "schema": _STR}


_FILTERS: Final = [
    _param("q", "Words of the title, buyer, description or identifiers (accents and case ignored)."),
    _param("buyer", "Words of the buyer's name."),
    _param("cpv", "CPV code or prefix."),
    _param("dept", "Département code."),
    _param("status", "open, cancelled or awarded."),
    _param("amended_since", "A day (2026-01-31) or a duration back (7d)."),
    _param("deadline_within", "A deadline between now and this far ahead (14d)."),
    _param("source", "boamp, ted, …"),
    _param("limit", "At most this many procedures (default 50, at most 500)."),
]

_CHANGE: Final = {
    "type": "object",
    "required": ["field", "lot", "old", "new", "text"],
    "properties": {
        "field": _STR,
        "lot": _NULLABLE_STR,
        "old": {},
        "new": {},
        "text": _STR,
        "section": _STR,
        "evidence": _STR,
        "announced": {"type": "boolean"},
        "correction": {"type": "boolean"},
    },
}

_VERSION: Final = {
    "type": "object",
    "required": ["n", "notice_id", "source", "kind", "published", "changes"],
    "properties": {
        "n": {"type": "integer"},
        "notice_id": _STR,
        "source": _STR,
        "kind": _STR,
        "published": _NULLABLE_STR,
        "url": _NULLABLE_STR,
        "changes": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
        "corrections": {"type": "array", "items": {"type": "object"}},
    },
}

_PROCEDURE: Final = {
    "type": "object",
    "properties": {
        "id": _STR,
        "title": _NULLABLE_STR,
        "buyer": _NULLABLE_STR,
        "status": _STR,
        "published": _NULLABLE_STR,
        "last_published": _NULLABLE_STR,
        "last_amended": _NULLABLE_STR,
        "amendments": {"type": "integer"},
        "cpv": {"type": "array", "items": _STR},
        "departments": {"type": "array", "items": _STR},
        "sources": {"type": "array", "items": _STR},
    },
}


def _ok(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"200": {"description": description, "content": {"application/json": {"schema": schema}}}}


SPEC: Final[dict[str, Any]] = {
    "openapi": "3.1.0",
    "info": {
        "title": "tracker",
        "version": "1",
        "description": "Amendments to public procurement notices: search, histories, the feed of changes.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Change": _CHANGE, "Version": _VERSION, "Procedure": _PROCEDURE},
    },
    "security": [{}, {"bearer": []}],
    "paths": {
        "/api/procedures": {
            "get": {
                "summary": "Search procedures",
                "parameters": _FILTERS,
                "responses": _ok(
                    {"type": "array", "items": {"$ref": "#/components/schemas/Procedure"}}, "Procedures, newest first"
                ),
            }
        },
        "/api/procedures/{id}/history": {
            "get": {
                "summary": "The history JSON of one procedure (the contract of `tracker history --json`)",
                "parameters": [
                    _param("id", "Any identifier of any notice of the procedure.", where="path", required=True),
                    _param("lang", "fr (default) or en, for the change texts."),
                ],
                "responses": _ok(
                    {
                        "type": "object",
                        "properties": {
                            "procedure": {"type": "object"},
                            "versions": {"type": "array", "items": {"$ref": "#/components/schemas/Version"}},
                        },
                    },
                    "The history",
                )
                | {"404": {"description": "No procedure known by this identifier"}},
            }
        },
        "/api/changes": {
            "get": {
                "summary": "Versions with typed changes published since a day, paged by cursor",
                "parameters": [
                    _param("since", "A day (2026-01-31) or a duration back (2d); default 7d."),
                    _param("cursor", "The cursor of the previous page."),
                    _param("limit", "Versions per page (default 100, at most 1000)."),
                    _param("subscriber", "Only the procedures this subscriber follows or matches."),
                ],
                "responses": _ok(
                    {
                        "type": "object",
                        "properties": {
                            "since": _STR,
                            "cursor": {"type": ["integer", "null"]},
                            "next": _STR,
                            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Version"}},
                        },
                    },
                    "One page of the feed",
                ),
            }
        },
        "/api/upcoming": {
            "get": {
                "summary": "Deadlines of the coming days, per lot",
                "parameters": [
                    _param("days", "How many days ahead (default 14)."),
                    _param("subscriber", "Only the procedures this subscriber follows or matches."),
                ],
                "responses": _ok({"type": "array", "items": {"type": "object"}}, "Deadlines, soonest first"),
            }
        },
    },
}
