"""Wiring of the notifications package to the settings: the delivery worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gaita.bootstrap import App
from notifications.compose import MailSettings
from notifications.delivery import DeliveryWorker, RetryPolicy, SmtpSettings


def mail_settings(app: App) -> MailSettings:
    s = app.settings
    return MailSettings(s.mail_from, s.base_url.rstrip("/"), s.secret_key)


def delivery_worker(app: App, **kw: Any) -> DeliveryWorker:
    s = app.settings
    smtp = SmtpSettings(s.smtp_host, s.smtp_port, s.smtp_tls, s.smtp_user, s.smtp_password,
                        s.smtp_timeout)
    retry = RetryPolicy(first=timedelta(seconds=s.mail_retry_first_seconds),
                        cap=timedelta(seconds=s.mail_retry_max_seconds),
                        give_up_after=timedelta(hours=s.mail_give_up_hours))
    return DeliveryWorker(app.db, app.rt, smtp, mail_settings(app), retry=retry,
                          lease=timedelta(seconds=s.mail_lease_seconds), **kw)
