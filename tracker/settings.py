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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
