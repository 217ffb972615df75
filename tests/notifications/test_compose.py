"""Every template composed from a real case's outbox row: the child's identity
never reaches a message, in either language, and the MIME keeps Latvian text."""

from __future__ import annotations

import email
import quopri
from collections.abc import Iterator
from email import policy
from typing import Any

import pytest
import sqlalchemy as sa

from engine.cases import open_case
from engine.runtime import Actor
from engine.tables import Outbox, User
from gaita.bootstrap import App
from gaita.mail import mail_settings
from notifications.catalogue import template_names
from notifications.compose import Composer
from tests.conftest import make_test_app
from tests.notifications.test_render import EXTRA

OUTBOX, USER = Outbox.__table__, User.__table__
NAME, CODE = "Žanete Ķēniņa-Šņore", "120514-21234"
SECRETS = (NAME, "Ķēniņa", "Šņore", CODE, CODE.replace("-", ""), "12.05.2014", "2014-05-12")
# (residence_report goes outside the municipality: it names the case from its payload only)
CASE_TEMPLATES = set(template_names()) - {"digest", "meeting_agenda", "residence_report"}


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    gaita = make_test_app(db_url)
    yield gaita
    gaita.db.dispose()


def queued_row(app: App, template: str, locale: str) -> dict[str, Any]:
    """An outbox row for ``template`` about a real case, to a user of ``locale``."""
    open_case(app.db, app.rt, "absences", Actor("koordinatore", "coordinator", "jip"),
              child_name=NAME, child_code=CODE, school="jelgavas-4-vsk",
              fields={"age_group": "basic"})
    with app.db.begin() as conn:
        conn.execute(sa.update(USER).where(USER.c.username == "skola").values(
            email="skola@example.lv", locale=locale))
        first = conn.execute(sa.select(OUTBOX).order_by(OUTBOX.c.id)).mappings().first()
        assert first is not None
        values = {k: v for k, v in first.items() if k != "id"}
        if template not in CASE_TEMPLATES:   # institution-wide: no case, no task
            values.update(case_id=None, event_id=None, task_id=None)
        values.update(template=template, recipient_user="skola", recipient_institution=None,
                      payload={"extra": EXTRA.get(template, {})})
        new_id = conn.execute(sa.insert(OUTBOX).values(**values).returning(OUTBOX.c.id)).scalar_one()
        return dict(conn.execute(sa.select(OUTBOX).where(OUTBOX.c.id == new_id)).mappings().one())


@pytest.mark.parametrize("locale", ["lv", "en"])
@pytest.mark.parametrize("template", sorted(template_names()))
def test_no_template_carries_the_childs_identity(app: App, template: str, locale: str) -> None:
    row = queued_row(app, template, locale)
    with app.db.connect() as conn:
        msg = Composer(app.rt, mail_settings(app)).compose(conn, row)
    raw = msg.as_bytes()
    parsed = email.message_from_bytes(raw, policy=policy.default)
    decoded = "\n".join([str(parsed["Subject"])] + [
        part.get_content() for part in parsed.walk() if part.get_content_maintype() == "text"])
    for secret in SECRETS:
        assert secret not in decoded, f"{secret!r} in {template} ({locale})"
        assert secret.encode() not in quopri.decodestring(raw)
    assert parsed["Content-Language"] == locale and parsed["To"] == "skola@example.lv"
    if template in CASE_TEMPLATES:
        assert "KAV-2026-" in str(parsed["Subject"])
    if locale == "lv":
        assert any(ch in decoded for ch in "āčēģīķļņšūž")
