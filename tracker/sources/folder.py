"""A local folder: every new or modified file becomes a document (no network)."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import Field

from tracker.exceptions import PermanentError
from tracker.sources.base import Cursor, Document, FetchResult, Source, SourceOptions

log = logging.getLogger(__name__)

_MEDIA_TYPES = {
    ".xml": "application/xml",
    ".json": "application/json",
    ".jsonl": "application/jsonl",
    ".html": "text/html",
    ".htm": "text/html",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".pdf": "application/pdf",
}

Entry = list[int | str]  # [size, mtime_ns, sha256]; sha256 is "" for a file skipped as too large


class FolderOptions(SourceOptions):
    """Options of :class:`FolderSource`."""

    path: Path = Field(description="folder to watch (read recursively)")
    pattern: str = Field("*", min_length=1, description="glob matched against file names, in every subfolder")
    max_bytes: int = Field(50_000_000, ge=1, description="larger files are skipped with a warning")
    batch_size: int = Field(100, ge=1, le=10_000, description="documents emitted per step at most")


@dataclass(frozen=True)
class _Seen:
    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, entry: object) -> _Seen | None:
        if isinstance(entry, list) and len(entry) == 3:
            size, mtime_ns, sha256 = entry
            if isinstance(size, int) and isinstance(mtime_ns, int) and isinstance(sha256, str):
                return cls(size, mtime_ns, sha256)
        return None

    def entry(self) -> Entry:
        return [self.size, self.mtime_ns, self.sha256]


class FolderSource(Source[FolderOptions]):
    """
    Publisher
      Whoever drops files in the folder: documents downloaded by hand, exports from another tool,
      a mounted share.
    Options
      path        folder to watch, read recursively (symbolic links are not followed)
      pattern     glob on file names (default "*")
      max_bytes   larger files are skipped with a warning (default 50 MB)
      batch_size  documents emitted per step at most (default 100)
    API documentation
      None: the local file system. The HTTP client is not used.

    The cursor maps each file's path, relative to ``path`` and with ``/`` separators, to
    ``[size, mtime_ns, sha256]``. A file whose size and mtime are unchanged is not read; a file
    whose content hash changed is emitted again; deleted files leave the cursor.
    """

    kind = "folder"
    options_model = FolderOptions
    default_parser = "auto"

    def fetch(self, cursor: Cursor, *, now: datetime) -> FetchResult:
        root = self.options.path
        if not root.is_dir():
            raise PermanentError(f"{self.name}: folder {root} does not exist")
        documents: list[Document] = []
        updated: Cursor = {}
        pending = False
        for relpath, path in self._files(root):
            known = _Seen.of(cursor.get(relpath))
            if len(documents) >= self.options.batch_size:
                pending = True  # examined by the next step
                if known is not None:
                    updated[relpath] = known.entry()
                continue
            try:
                seen, document = self._check(path, known)
            except OSError as exc:  # vanished or unreadable: tried again next poll
                log.warning("%s: cannot read %s: %s, skipped", self.name, path, exc.strerror)
                if known is not None:
                    updated[relpath] = known.entry()
                continue
            updated[relpath] = seen.entry()
            if document is not None:
                documents.append(document)
        return FetchResult(documents, updated, done=not pending)

    def _files(self, root: Path) -> list[tuple[str, Path]]:
        found = (path for path in root.rglob(self.options.pattern) if path.is_file() and not path.is_symlink())
        return sorted((path.relative_to(root).as_posix(), path) for path in found)

    def _check(self, path: Path, known: _Seen | None) -> tuple[_Seen, Document | None]:
        """The file's new cursor entry, and a document when its content is new."""
        stat = path.stat()
        if known is not None and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            return known, None
        content = _read(path, self.options.max_bytes)
        if content is None:
            log.warning("%s: %s is larger than %d bytes, skipped", self.name, path, self.options.max_bytes)
            return _Seen(stat.st_size, stat.st_mtime_ns, ""), None
        seen = _Seen(len(content), stat.st_mtime_ns, hashlib.sha256(content).hexdigest())
        if known is not None and known.sha256 == seen.sha256:
            return seen, None
        return seen, Document(self.name, str(path), content, _media_type(path))


def _read(path: Path, max_bytes: int) -> bytes | None:
    """The file's bytes, or None when it is larger than ``max_bytes``."""
    with path.open("rb") as handle:
        content = handle.read(max_bytes + 1)
    return content if len(content) <= max_bytes else None


def _media_type(path: Path) -> str:
    suffix = path.suffix.lower()
    return _MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
