"""Settings from the environment (prefix ``GAITA_``) or a ``.env`` file.

Loaded once by each entry point (``load_settings``), never at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.clock import parse_instant
from engine.errors import GaitaError

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-secret-change-me"   # noqa: S105 - refused in production (below)


class SettingsError(GaitaError):
    pass


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GAITA_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = f"sqlite:///{ROOT / 'var' / 'gaita.db'}"
    now: datetime | None = None
    config: Path = ROOT / "config" / "jelgava"
    workflows: Path = ROOT / "workflows"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEV_SECRET
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout: float = Field(default=30.0, gt=0)
    mail_from: str = "gaita@example.lv"
    # Delivery retries (4xx, dropped connections): first delay, doubling up to the
    # cap, with jitter, until the give-up window from the email's queueing ends.
    mail_retry_first_seconds: int = Field(default=60, gt=0)
    mail_retry_max_seconds: int = Field(default=6 * 3600, gt=0)
    mail_give_up_hours: float = Field(default=96, gt=0)
    mail_lease_seconds: int = Field(default=300, gt=0)   # a worker's hold on claimed rows
    mail_poll_seconds: int = Field(default=10, gt=0)     # `gaita serve` delivers this often
    tick_seconds: int = Field(default=60, gt=0)
    digest_hour: int = Field(default=7, ge=0, le=23)   # local time of the daily digest
    # The web app (gaita.web): sessions end after this much idleness, or this long
    # after login whatever happens; logins are refused for the window after this
    # many failures for one user name (or 4x as many from one address).
    session_idle_minutes: int = Field(default=30, gt=0)
    session_absolute_hours: int = Field(default=10, gt=0)
    login_max_failures: int = Field(default=5, gt=0)
    login_window_minutes: int = Field(default=15, gt=0)
    # Whether `gaita serve` also runs the scheduler (tick, delivery, digests) in its
    # process.  false: web processes only; run `gaita worker` separately.
    serve_scheduler: bool = True
    web_workers: int = Field(default=1, ge=1, le=64)   # `gaita serve` web processes

    @field_validator("now", mode="before")
    @classmethod
    def _parse_now(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_instant(value) if value.strip() else None
        return value

    @field_validator("mail_from")
    @classmethod
    def _address(cls, value: str) -> str:
        address = parseaddr(value)[1]   # "Gaita <gaita@jelgava.lv>" is fine too
        user, at, domain = address.rpartition("@")
        if not (user and at and domain):
            raise ValueError(f"must be an email address, got {value!r}")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> Settings:
        # The worker renews its lease every third of it; one send (connect + DATA)
        # must fit in what is left, or another worker could take the row meanwhile.
        if self.mail_lease_seconds < 4 * self.smtp_timeout:
            raise ValueError(f"GAITA_MAIL_LEASE_SECONDS ({self.mail_lease_seconds}) must be at "
                             f"least 4 x GAITA_SMTP_TIMEOUT ({self.smtp_timeout:g})")
        return self

    @field_validator("secret_key")
    @classmethod
    def _secret_length(cls, value: str) -> str:
        if len(value) < 16:
            raise ValueError("must be at least 16 characters")
        return value


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from ``environ`` (default: the process environment) plus overrides."""
    try:
        if environ is not None:
            values = {k[6:].lower(): v for k, v in environ.items() if k.startswith("GAITA_")}
            fields: dict[str, Any] = {**values, **overrides}
            settings = Settings(_env_file=None, **fields)
        else:
            given: dict[str, Any] = dict(overrides)
            settings = Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:   # a rule across settings names them itself
            raise SettingsError("settings.invalid", reason=message) from None
        name = "GAITA_" + ".".join(str(p) for p in first["loc"]).upper()
        raise SettingsError("settings.invalid_one", name=name, reason=message) from None
    if settings.env == "production" and settings.secret_key == DEV_SECRET:
        raise SettingsError("settings.secret_key")
    return settings
