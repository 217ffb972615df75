"""Other children on a case, and the MK 474 p. 12 report to the municipality where the
pupil who used violence has their declared residence.

The pupil who used violence (``PartyRole.AGGRESSOR``) is recorded on the victim's case
by ``add_aggressor``: a ``child`` row like the case's own child (found by the keyed hash
of the personal code, ``engine.children``), and a ``case_party`` row with the party's
school (an institution code, or a free text for a school elsewhere) and declared
municipality (a code of ``config/<m>/municipalities.yaml``, or a name for one outside
it).  The identity stays in ``child``: never in events, outbox payloads or emails; a
case view shows it only to those who see the ``identity`` field group; every write and
read is in the access log, like the case's own.

A transition declaring ``report_to_residence`` (violence ``report_to_municipality``)
is that report.  ``residence_route`` decides, before it fires, where it goes: our own
municipality (nothing changes: the declared ``notify`` to the ``replaces`` role is the
report), or another one (that notification is not sent).  ``report_to_residence``,
after it fired, records the report as an event and queues a neutral email (no child
data; the case's reference and the coordinator's contact) to the other municipality's
receiving address; when no address is known (a municipality outside the directory,
or one without ``email``), the report waits, the case shows it, and
``give_report_address`` (the coordinating institution) sends it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine import policy
from engine.access_log import log_access
from engine.children import child_id, code_lookup_hash
from engine.definitions import Notification, ResidenceReport, Transition
from engine.errors import FieldError, Message, Named, NotFound, NotPermitted, msg
from engine.events import EventKind, append_event
from engine.municipality import OtherMunicipality
from engine.outbox import outbox_row
from engine.personal_code import parse_personal_code
from engine.runtime import Actor, Runtime
from engine.store import (
    CHILD,
    EVENT,
    INSTITUTION,
    OUTBOX,
    PARTY,
    Row,
    load_case_row,
    require_version,
)
from engine.tables import AccessAction, CaseStatus, Channel, PartyRole

#: A receiving address as the configuration accepts one (``engine.municipality.Email``).
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")
#: ``case_event.payload["status"]`` of a residence report.
SENT, WAITING = "sent", "waiting_address"

_PARTY = sa.select(PARTY).where(PARTY.c.case_id == sa.bindparam("b_case_id"),
                                PARTY.c.role == sa.bindparam("b_role"))


@dataclass(frozen=True)
class Residence:
    """Where a party's residence is declared, as a report is routed."""

    code: str                          # as recorded
    name: dict[str, str]               # {lv, en}
    ours: bool
    receiving: OtherMunicipality | None   # the directory's entry that receives (None: outside)
    address: str | None                # the coordinator's, else the directory's

    @property
    def waiting(self) -> bool:
        """Another municipality, and no address to send its report to."""
        return not self.ours and self.address is None


@dataclass(frozen=True)
class PartyAdded:
    reference: str
    role: str
    event_id: int
    version: int
    residence: Residence
    warnings: tuple[Message, ...] = ()


@dataclass(frozen=True)
class AddressGiven:
    reference: str
    address: str
    sent: bool          # a waiting report went out with it
    version: int


# --- recording the aggressor ---------------------------------------------------------


def add_aggressor(db: sa.Engine, rt: Runtime, reference: str, actor: Actor, *, name: str,
                  code: str, school: str, municipality: str,
                  municipality_name: str | None = None, address: str | None = None,
                  expected_version: int | None = None,
                  channel: Channel = Channel.CLI) -> PartyAdded:
    """Record the pupil who used violence on the case ``reference``.

    Refused, with nothing stored: the actor may not act on the case; the case moved on
    (``expected_version``) or is closed; an aggressor already recorded; no name; an
    invalid personal code, or the case's own child's; no school; a municipality code
    not in the directory without the municipality's name (``municipality_name``: one
    outside it); an address that is not one."""
    now = rt.clock.now()
    name = " ".join((name or "").split())
    school = " ".join((school or "").split())
    municipality = (municipality or "").strip().lower()
    role = PartyRole.AGGRESSOR
    with db.begin() as conn:
        case = load_case_row(conn, reference)
        policy.require_on_case(conn, rt, actor, policy.Action.ADD_PARTY, case)
        require_version(case, expected_version)
        if case["status"] != CaseStatus.OPEN:
            raise NotPermitted("party.case_closed", reference=reference, outcome=case["outcome"])
        if conn.execute(_PARTY, {"b_case_id": case["id"], "b_role": role.value}).first():
            raise NotPermitted("party.already_recorded", reference=reference,
                               role=_role(role))
        if not any(ch.isalpha() for ch in name):
            raise FieldError("child_name", msg("field.name_required"))
        parsed = parse_personal_code(code)
        own = conn.execute(sa.select(CHILD.c.code_hash).where(
            CHILD.c.id == case["child_id"])).scalar_one()
        if own == code_lookup_hash(rt.code_key, parsed.digits()):
            raise FieldError("child_code", msg("party.own_code", role=_role(role)))
        if not school:
            raise FieldError("school", msg("party.school_required"))
        given_name = " ".join((municipality_name or "").split()) or None
        row = _residence_row(rt, municipality, given_name, _address(address))
        school_code = conn.execute(sa.select(INSTITUTION.c.code).where(
            INSTITUTION.c.code == school)).scalar()
        child, kept_name = child_id(conn, rt.code_key, name, parsed)
        residence = residence_of(rt, row)
        event_id = append_event(conn, case, actor, now, kind=EventKind.PARTY_ADDED, payload={
            "role": role.value, "municipality": row["municipality"], "ours": residence.ours})
        conn.execute(sa.insert(PARTY), {
            "case_id": case["id"], "child_id": child, "role": role.value,
            "school_institution": school_code, "school_text": None if school_code else school,
            **row, "added_at": now, "added_by_event": event_id})
        log_access(conn, case["id"], actor.username, AccessAction.WRITE, channel, now,
                   detail=f"party:{role.value}")
    warnings = parsed.warnings + ((msg("child.name_kept"),) if kept_name else ())
    if residence.waiting:
        warnings += (msg("party.address_needed", municipality=residence.name["lv"]),)
    return PartyAdded(reference, role.value, event_id, case["version"] + 1, residence, warnings)


def _residence_row(rt: Runtime, code: str, name: str | None,
                   address: str | None) -> dict[str, Any]:
    """The party's municipality columns; a code outside the directory needs its name."""
    directory = rt.municipality.directory_of_municipalities
    ours = rt.municipality.municipality.code
    known = directory is not None and code in directory.by_code
    if not code:
        raise FieldError("municipality", msg("party.municipality_required"))
    if not known and code != ours and name is None:
        raise FieldError("municipality", msg(
            "party.municipality_unknown", code=code,
            file=f"{rt.municipality.directory}/municipalities.yaml"))
    return {"municipality": code, "municipality_name": None if known else name,
            "report_address": address}


def _address(address: str | None) -> str | None:
    """A receiving address as given (``FieldError`` unless it is one)."""
    if address is None or not address.strip():
        return None
    address = address.strip()
    if not _EMAIL.fullmatch(address):
        raise FieldError("address", msg("party.bad_address", address=address))
    return address


def _role(role: PartyRole) -> Message:
    return msg(f"party.role.{role.value}")


def residence_of(rt: Runtime, party: Row) -> Residence:
    """Where the party's report goes (``party``: its ``case_party`` columns)."""
    code = party["municipality"]
    ours = rt.municipality.municipality.code
    directory = rt.municipality.directory_of_municipalities
    entry = directory.by_code.get(code) if directory is not None else None
    receiving = directory.receiving(code) if directory is not None else None
    if entry is not None:
        name = {"lv": entry.name.lv, "en": entry.name.en}
    elif code == ours:
        name = {loc: rt.municipality.municipality.name.get(loc) for loc in ("lv", "en")}
    else:
        given = party.get("municipality_name") or code
        name = {"lv": given, "en": given}
    is_ours = code == ours or (receiving is not None and receiving.code == ours)
    address = party.get("report_address") or (receiving.email if receiving else None)
    return Residence(code, name, is_ours, receiving, None if is_ours else address)


# --- the report (engine.cases.fire) --------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Where a ``report_to_residence`` step's report goes."""

    spec: ResidenceReport
    party: dict[str, Any]
    residence: Residence

    def notify(self, declared: list[Notification]) -> list[Notification]:
        """The step's notifications: as declared when the residence is ours; else
        without the one to ``replaces`` (the report goes elsewhere)."""
        if self.residence.ours:
            return declared
        return [n for n in declared if n.to != self.spec.replaces]


def residence_route(conn: sa.Connection, rt: Runtime, case: Mapping[str, Any],
                    transition: Transition) -> Route | None:
    """The route of a ``report_to_residence`` step (None for any other step);
    ``NotPermitted`` when its party is not recorded yet."""
    spec = transition.report_to_residence
    if spec is None:
        return None
    row = conn.execute(_PARTY, {"b_case_id": case["id"], "b_role": spec.party}).mappings().first()
    if row is None:
        raise NotPermitted("party.required", trigger=Named(transition.trigger, transition.title),
                           role=msg(f"party.role.{spec.party}"))
    return Route(spec, dict(row), residence_of(rt, row))


def report_to_residence(conn: sa.Connection, rt: Runtime, reference: str, route: Route,
                        actor: Actor, now: datetime) -> int:
    """After the step fired: record the report to another municipality and send it (or,
    with no address, record that it waits).  Returns the event's id."""
    case = load_case_row(conn, reference)
    res = route.residence
    payload = {"municipality": res.code, "receiving": res.receiving.code if res.receiving
               else None, "status": WAITING if res.waiting else SENT}
    if res.address is not None:
        payload["address"] = res.address
    event_id = append_event(conn, case, actor, now, kind=EventKind.RESIDENCE_REPORT,
                            payload=payload)
    if res.address is not None:
        _queue_report(conn, case, route.spec.template, res, event_id, now, actor)
    return event_id


def _queue_report(conn: sa.Connection, case: Mapping[str, Any], template: str,
                  res: Residence, event_id: int, now: datetime, actor: Actor) -> None:
    """The neutral email to the other municipality: codes only; the composer reads its
    address (``payload["external"]``) and the sender's contact when it is sent."""
    row = outbox_row(now, template, case=case, event_id=event_id, extra={
        "municipality": res.code, "school": case["school_institution"],
        "sender": actor.username})
    row["payload"]["external"] = {"municipality": res.code, "address": res.address,
                                  "name": res.name}
    conn.execute(sa.insert(OUTBOX), row)


def pending_report(conn: sa.Connection, case_id: int) -> dict[str, Any] | None:
    """The case's last residence report event's payload, if it still waits for an
    address."""
    last = conn.execute(sa.select(EVENT.c.payload).where(
        EVENT.c.case_id == case_id, EVENT.c.kind == EventKind.RESIDENCE_REPORT.value)
        .order_by(EVENT.c.seq.desc()).limit(1)).scalar()
    return dict(last) if last is not None and last.get("status") == WAITING else None


def give_report_address(db: sa.Engine, rt: Runtime, reference: str, actor: Actor,
                        address: str, *, role: PartyRole = PartyRole.AGGRESSOR,
                        expected_version: int | None = None,
                        channel: Channel = Channel.CLI) -> AddressGiven:
    """The coordinator gives the receiving address of the party's municipality; a report
    waiting for it is sent at once."""
    now = rt.clock.now()
    given = _address(address)
    if given is None:
        raise FieldError("address", msg("party.address_required"))
    with db.begin() as conn:
        case = load_case_row(conn, reference)
        policy.require_on_case(conn, rt, actor, policy.Action.GIVE_ADDRESS, case)
        require_version(case, expected_version)
        row = conn.execute(_PARTY, {"b_case_id": case["id"], "b_role": role.value}
                           ).mappings().first()
        if row is None:
            raise NotFound("party.none", reference=reference, role=_role(role))
        res = residence_of(rt, {**row, "report_address": given})
        if res.ours:
            raise NotPermitted("party.residence_ours", municipality=res.name["lv"])
        conn.execute(sa.update(PARTY).where(PARTY.c.id == row["id"]).values(
            report_address=given))
        append_event(conn, case, actor, now, kind=EventKind.ADDRESS_GIVEN,
                     payload={"municipality": res.code, "address": given})
        waiting = pending_report(conn, case["id"])
        version = case["version"] + 1
        if waiting is not None:
            wf = rt.registry.get(case["case_type"], case["definition_version"])
            template = next(t.report_to_residence.template for t in wf.transitions
                            if t.report_to_residence is not None
                            and t.report_to_residence.party == role.value)
            case = load_case_row(conn, reference)
            sent = append_event(conn, case, actor, now, kind=EventKind.RESIDENCE_REPORT,
                                payload={"municipality": res.code, "receiving": (
                                    res.receiving.code if res.receiving else None),
                                    "status": SENT, "address": given})
            _queue_report(conn, case, template, res, sent, now, actor)
            version += 1
        log_access(conn, case["id"], actor.username, AccessAction.WRITE, channel, now,
                   detail=f"address:{role.value}")
    return AddressGiven(reference, given, waiting is not None, version)


# --- what a case view shows ----------------------------------------------------------


def parties_view(conn: sa.Connection, rt: Runtime, case_id: int,
                 identity: bool) -> list[dict[str, Any]]:
    """The case's other children: role, school, municipality, where their report stands;
    their name and personal code only with ``identity``."""
    rows = conn.execute(sa.select(PARTY, CHILD.c.name, CHILD.c.personal_code)
                        .join(CHILD, CHILD.c.id == PARTY.c.child_id)
                        .where(PARTY.c.case_id == case_id).order_by(PARTY.c.id)).mappings().all()
    pending = pending_report(conn, case_id) if rows else None
    out = []
    for r in rows:
        res = residence_of(rt, r)
        item: dict[str, Any] = {
            "role": r["role"], "school": r["school_institution"], "school_text": r["school_text"],
            "municipality": res.code, "municipality_name": res.name, "ours": res.ours,
            "address": res.address, "waiting_for_address": res.waiting,
            "report_waiting": pending is not None and pending.get("municipality") == res.code,
            "added_at": r["added_at"]}
        if identity:
            item["child"] = {"name": r["name"], "personal_code": r["personal_code"]}
        out.append(item)
    return out
