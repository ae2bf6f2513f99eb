"""Parsers: raw documents to NoticeSnapshot. Pure: no network, no database, no clock."""
