"""Settings from the environment (``TRACKER_*``), validated once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKER_", extra="ignore")

    #: any SQLAlchemy URL; the embedded default is a SQLite file in the working directory
    database_url: str = "sqlite:///tracker.db"
    redis_url: str = "redis://127.0.0.1:6379/0"
    config_dir: Path = Path("config")
    #: ``TRACKER_LOG_LEVEL``: DEBUG, INFO, WARNING (default), ERROR, or a number; ``tracker -v`` means DEBUG
    log_level: str = "WARNING"
    user_agent: str = Field(default="tracker/0.1 (procurement amendment tracker)")
    http_timeout: float = 30.0
    #: ``TRACKER_NEWS_WINDOW_DAYS``: a version published this many days ago or less is news; an older one only
    #: while its procedure still has a deadline ahead (tracker.news); 0: only deadlines ahead make news
    news_window_days: int = Field(default=7, ge=0, le=3650)
    #: ``TRACKER_MAX_DOCUMENT_BYTES``: one record of a file, one XML document, one fetched document; larger ones
    #: are quarantined with the reason
    max_document_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    #: ``TRACKER_MAX_FILE_BYTES``: an input file larger than this is refused whole (records are streamed: memory
    #: does not grow with the file)
    max_file_bytes: int = Field(default=4 * 1024 * 1024 * 1024, ge=1024)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
