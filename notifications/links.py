"""Signed action links: one task, one purpose, an expiry.

A link carries no secret state of its own: ``(outbox row, task, purpose,
expiry)`` signed with ``GAITA_SECRET_KEY`` (itsdangerous, HMAC-SHA256).  The
same email therefore always has the same links, also when it is resent after
a crash.  What makes a link single-use is the ``action_token`` row that
``engine.answers.answer`` writes in the same transaction as the answer; what
makes it stop once the task is closed is the task row itself.

The expiry is counted in working days from the email's creation
(parameter ``links.expire_working_days``) and falls at the end of that day.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer

from engine.answers import TaskAction
from engine.errors import GaitaError
from engine.runtime import Runtime

EXPIRY_PARAM = "links.expire_working_days"
_SALT = "gaita.action-link.v1"


class LinkError(GaitaError):
    """A link that cannot be used; ``kind`` picks the page shown."""

    kind = "invalid"


class LinkTampered(LinkError):
    kind = "tampered"

    def __init__(self) -> None:
        super().__init__("link.tampered")


class LinkExpired(LinkError):
    kind = "expired"

    def __init__(self, expired_at: datetime) -> None:
        self.expired_at = expired_at
        super().__init__("link.expired", at=expired_at.isoformat(timespec="minutes"))


class WrongPurpose(LinkError):
    kind = "wrong_purpose"

    def __init__(self, purpose: TaskAction, used_for: str) -> None:
        self.purpose = purpose
        super().__init__("link.wrong_purpose", purpose=purpose, used_for=used_for)


@dataclass(frozen=True)
class ActionLink:
    outbox_id: int
    task_id: int
    purpose: TaskAction
    expires_at: datetime


class LinkSigner:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeSerializer(
            secret_key, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})

    def sign(self, link: ActionLink) -> str:
        return self._serializer.dumps([link.outbox_id, link.task_id, link.purpose.value,
                                       int(link.expires_at.timestamp())])

    def verify(self, token: str, purpose: str, now: datetime) -> ActionLink:
        """The link in ``token``, used for ``purpose`` at ``now``; raises a ``LinkError``."""
        try:
            outbox_id, task_id, signed_purpose, expires = self._serializer.loads(token)
            link = ActionLink(int(outbox_id), int(task_id), TaskAction(signed_purpose),
                              datetime.fromtimestamp(int(expires), UTC))
        except (BadSignature, ValueError, TypeError):
            raise LinkTampered() from None
        if link.purpose.value != purpose:
            raise WrongPurpose(link.purpose, purpose)
        if now > link.expires_at:
            raise LinkExpired(link.expires_at)
        return link


def link_expiry(rt: Runtime, created_at: datetime) -> datetime:
    return rt.calendar.due_at(created_at, rt.days(EXPIRY_PARAM))


def action_path(purpose: TaskAction, token: str) -> str:
    """The web route of a link (``gaita.web`` serves it)."""
    return f"/link/{purpose.value}/{token}"
