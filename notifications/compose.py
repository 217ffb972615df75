"""From an outbox row to an email: recipient, template context, MIME message.

The recipient is resolved when the email is sent, from the municipality
config (institutions) or the user table, so a corrected address takes
effect for mail still queued.  The context carries the case reference, the
task, the due date and links, and never anything about the child: the
context is built here from the case, task and institution rows only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from engine.answers import TaskAction
from engine.errors import ConfigError, GaitaError, NotFound
from engine.outbox import TO_HEAD
from engine.runtime import Runtime
from engine.store import CASE, EVENT, TASK, USER, Row
from engine.tables import TaskKind
from engine.tasks import task_title
from notifications.catalogue import NOTICES_TEMPLATE, template_version
from notifications.links import ActionLink, LinkSigner, action_path, link_expiry
from notifications.render import LOCALES, Renderer


class RecipientError(GaitaError):
    """No usable address for an email: a configuration problem, never a silent drop."""


#: The header naming the template version an email was made with (recorded as sent).
TEMPLATE_HEADER = "X-Gaita-Template"


@dataclass(frozen=True)
class MailSettings:
    mail_from: str
    base_url: str
    secret_key: str


@dataclass(frozen=True)
class Recipient:
    name: str
    address: str
    locale: str


def message_id(row: Mapping[str, Any], mail_from: str) -> str:
    """Stable per outbox row: a resend after a crash carries the same Message-ID."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "gaita.invalid"
    stamp = row["created_at"].strftime("%Y%m%d%H%M%S")
    return f"<gaita.outbox.{row['id']}.{stamp}@{domain}>"


class Composer:
    def __init__(self, rt: Runtime, settings: MailSettings, renderer: Renderer | None = None):
        self.rt = rt
        self.settings = settings
        self.renderer = renderer or Renderer()
        self.signer = LinkSigner(settings.secret_key)

    def compose(self, conn: sa.Connection, row: Mapping[str, Any]) -> EmailMessage:
        """The email for one outbox row; raises ``RecipientError`` or ``ConfigError``."""
        return self.compose_many(conn, [row])

    def compose_many(self, conn: sa.Connection,
                     rows: Sequence[Mapping[str, Any]]) -> EmailMessage:
        """One email for outbox rows to one recipient (``notifications.timing`` groups
        them): a single row's own email, or a ``notices`` email listing each row's notice
        (its subject line), case reference, task and the task's own action links.  The
        Message-ID is the first row's; ``TEMPLATE_HEADER`` names the template version."""
        lead = rows[0]
        to = self.recipient(conn, lead)
        if len(rows) == 1:
            template, names = lead["template"], [lead["template"]]
            rendered = self.renderer.render(template, to.locale, self.context(conn, lead, to))
        else:
            template = NOTICES_TEMPLATE
            names = [template, *(r["template"] for r in rows)]
            rendered = self.renderer.render(template, to.locale,
                                            self._notices_context(conn, rows, to))
        msg = EmailMessage()
        msg["From"] = self.settings.mail_from
        msg["To"] = to.address
        msg["Subject"] = rendered.subject
        msg["Message-ID"] = message_id(lead, self.settings.mail_from)
        msg["Date"] = format_datetime(self.rt.clock.now())
        msg["Auto-Submitted"] = "auto-generated"
        msg[TEMPLATE_HEADER] = template_version(names, to.locale, self.renderer.directory)
        msg.set_content(rendered.text, charset="utf-8")
        msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
        msg["Content-Language"] = to.locale   # after set_content, which drops Content-* headers
        return msg

    def _notices_context(self, conn: sa.Connection, rows: Sequence[Mapping[str, Any]],
                         to: Recipient) -> dict[str, Any]:
        """The ``notices`` email's context: ``extra.notices`` in the rows' order, each with
        its own notice text (the subject its template gives it), case, task and links."""
        notices = []
        for row in rows:
            ctx = self.context(conn, row, to)
            text = self.renderer.render(row["template"], to.locale, ctx).subject
            notices.append({"text": text, "case": ctx["case"], "task": ctx["task"],
                            "actions": ctx["actions"]})
        cases = {r["case_id"] for r in rows}
        one_case = notices[-1]["case"] if len(cases) == 1 else None
        return {"locale": to.locale, "recipient": {"name": to.name},
                "municipality": getattr(self.rt.municipality.municipality.name, to.locale),
                "case": one_case, "task": None, "actions": [],
                "extra": {"notices": notices, "cases": len(cases)}}

    def recipient(self, conn: sa.Connection, row: Mapping[str, Any]) -> Recipient:
        external = row["payload"].get("external")
        if external is not None:   # another municipality's body (engine.parties)
            return self._external(external)
        if row["recipient_user"]:
            user = conn.execute(sa.select(USER).where(
                USER.c.username == row["recipient_user"])).mappings().first()
            if user is None or not user.active:
                raise RecipientError("mail.user_gone", user=row["recipient_user"])
            if not user.email:
                raise RecipientError("mail.user_no_address", user=row["recipient_user"])
            return Recipient(user.display_name, user.email, _locale(user.locale))
        code = row["recipient_institution"]
        if code is None:
            raise RecipientError("mail.no_holder", role=row["recipient_role"])
        try:
            inst = self.rt.municipality.institution(code)
        except ConfigError:
            raise RecipientError("mail.institution_gone", code=code,
                                 file=self._config_file()) from None
        to_head = row["payload"].get("to") == TO_HEAD
        address = inst.head_email if to_head else inst.email
        field = "head_email" if to_head else "email"
        if row.get("fallback"):   # the primary address refused it for good
            address, field = inst.fallback_email, "fallback_email"
        if not address:
            raise RecipientError("mail.no_address", code=code, field=field,
                                 file=self._config_file())
        locale = _locale(inst.locale or self.rt.municipality.municipality.default_locale)
        return Recipient(getattr(inst.name, locale), address, locale)

    def _external(self, external: Mapping[str, Any]) -> Recipient:
        """Another municipality's receiving body: the address recorded with the email
        (the coordinator's), else the directory's as it is now."""
        directory = self.rt.municipality.directory_of_municipalities
        entry = directory.receiving(external["municipality"]) if directory else None
        address = external.get("address") or (entry.email if entry else None)
        if not address:
            raise RecipientError("mail.no_external_address",
                                 municipality=external["name"]["lv"])
        locale = _locale(self.rt.municipality.municipality.default_locale)
        name = (entry.body or entry.name).get(locale) if entry else external["name"][locale]
        return Recipient(name, address, locale)

    def context(self, conn: sa.Connection, row: Mapping[str, Any],
                to: Recipient) -> dict[str, Any]:
        if row["payload"].get("external") is not None:
            return self._external_context(conn, row, to)
        loc = to.locale
        ctx: dict[str, Any] = {
            "locale": loc, "recipient": {"name": to.name},
            "municipality": getattr(self.rt.municipality.municipality.name, loc),
            "case": None, "task": None, "actions": [],
            "extra": dict(row["payload"].get("extra", {})),
        }
        if row["case_id"] is None:
            return ctx
        case = conn.execute(sa.select(CASE).where(CASE.c.id == row["case_id"])).mappings().one()
        wf = self.rt.registry.get(case.case_type, case.definition_version)
        state, versions = case.state, [case.definition_version]
        if row["event_id"] is not None:   # the state the email is about, not where the case is now
            event = conn.execute(sa.select(EVENT.c.to_state, EVENT.c.definition_version).where(
                EVENT.c.id == row["event_id"])).one()
            state, versions = event.to_state, [event.definition_version, *versions]
        ctx["case"] = {"reference": case.reference, "type_title": getattr(wf.title, loc),
                       "state_title": self._state_title(case.case_type, versions, state, loc),
                       "url": case_url(self.settings.base_url, case.reference)}
        task_id = row["task_id"] or row["payload"].get("task")
        if task_id is not None:
            task = conn.execute(sa.select(TASK).where(TASK.c.id == task_id)).mappings().one()
            beside = task_title(wf, task)
            title = (beside[loc] if beside
                     else self._state_title(case.case_type, versions, task.state, loc))
            ctx["task"] = self._task(task, title, loc)
            if row["task_id"] is not None and task.closed_at is None:
                ctx["actions"] = self.actions(row)
        return ctx

    def _external_context(self, conn: sa.Connection, row: Mapping[str, Any],
                          to: Recipient) -> dict[str, Any]:
        """What the email to another municipality says: no case link (its body has no
        account), no child data; the reference, the sending school and whom to contact
        (the coordinating institution, and the coordinator who sent it)."""
        loc, m = to.locale, self.rt.municipality
        extra = dict(row["payload"].get("extra", {}))
        coordinating = m.institutions_with_role(self.rt.registry.roles.coordinating)
        office = coordinating[0] if coordinating else None
        sender = conn.execute(sa.select(USER.c.display_name, USER.c.email).where(
            USER.c.username == extra.get("sender"))).first()
        return {
            "locale": loc, "recipient": {"name": to.name},
            "municipality": m.municipality.name.get(loc), "case": None, "task": None,
            "actions": [], "extra": {**extra, "report": {
                "reference": row["payload"].get("reference"),
                "school": m.institution_name(extra.get("school"), loc),
                "office": office.name.get(loc) if office else "",
                "office_email": office.email if office else None,
                "sender": sender.display_name if sender else None,
                "sender_email": sender.email if sender else None,
            }},
        }

    def actions(self, row: Mapping[str, Any]) -> list[dict[str, str]]:
        expires = link_expiry(self.rt, row["created_at"])
        out = []
        for purpose in TaskAction:
            token = self.signer.sign(ActionLink(row["id"], row["task_id"], purpose, expires))
            out.append({"purpose": purpose.value,
                        "url": self.settings.base_url + action_path(purpose, token)})
        return out

    def _state_title(self, case_type: str, versions: list[int], state: str, loc: str) -> str:
        """The state's title in the first of ``versions`` that has it (a state renamed
        by a version migration keeps its old title in emails queued before)."""
        for version in versions:
            try:
                return self.rt.registry.get(case_type, version).state(state).title.get(loc)
            except NotFound:
                continue
        return state

    def _task(self, task: Row, title: str, loc: str) -> dict[str, Any]:
        now, cal = self.rt.clock.now(), self.rt.calendar
        due: datetime | None = task["due_at"]
        inst = task["assignee_institution"]
        days_left = cal.working_days_left(now, due) if due else None
        return {
            "title": title,
            "institution": self.rt.municipality.institution_name(inst, loc),
            "due": cal.format_local(due, loc) if due else None,
            "days_left": days_left,
            "overdue_days": -days_left if due and now > due and days_left is not None else None,
            # a report made to the institution: acting on it is its own duty (urgent_report)
            "report": task["kind"] == TaskKind.REPORT,
        }

    def _config_file(self) -> str:
        # the directory is a str in the config
        return str(Path(self.rt.municipality.directory, "institutions.yaml"))


def case_url(base_url: str, reference: str) -> str:
    """The case's page in the web app (the web-app issue serves it)."""
    return f"{base_url}/cases/{reference}"


def _locale(value: str) -> str:
    return value if value in LOCALES else LOCALES[0]
