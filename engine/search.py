"""Finding cases: by reference, by the child's name, by the child's personal code.

``search_cases(db, rt, actor, text)`` answers one query typed into a search box:

- a **reference**, exact or its beginning, in any case ("kav-2026-0004");
- the child's **name**, with or without diacritics, in any order, each word by its
  beginning ("berz jan" finds "Jānis Bērziņš"): through ``child_name_word`` (the folded
  words, ``engine.children.name_words``), a prefix being a range of its index;
- the child's exact **personal code**, with or without its hyphen: through the keyed
  hash the child table keeps (``child.code_hash``); no search index holds the code.

Name and code are searched only for a user who sees the child's identity (the
``identity`` field group): anyone else finds a case by its reference only, so a search
never tells them which child has a case.  Every result is a case the access policy lets
the user reach (``engine.policy.visible_cases``, as the case list), open or closed,
newest (last opened) first, at most ``limit``.  Each result showing the child's name is
a read of that case's child data, written to the access log (``read``, detail
``search``), as the case page's read is; the query itself is never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.access_log import log_access
from engine.children import WORD_LENGTH, code_lookup_hash, fold
from engine.errors import InvalidSearch
from engine.policy import IDENTITY, Action, Subject, require, visible_cases, visible_groups
from engine.registry import Roles
from engine.runtime import Actor, Runtime
from engine.store import ACCESS, CASE, CHILD, NAME_WORD
from engine.tables import AccessAction, Channel

#: Most results a search returns (``SearchResult.more`` says there were more).
MAX_RESULTS = 50
#: Longest query, in characters.
MAX_QUERY = 200
#: Most words of a name query (more words: an error, not a slow query).
MAX_WORDS = 6
#: The access log's ``detail`` of a search's read.
LOG_DETAIL = "search"
#: Most cases one way of matching gives by id; more make it a walk (``Way``).
NARROW = 1000
#: Above every character: a word's prefix ``w`` is the range ``[w, w + _TOP)``.
_TOP = "\U0010ffff"


@dataclass(frozen=True)
class SearchResult:
    query: str
    rows: list[dict[str, Any]]
    more: bool            # more cases matched than ``rows`` holds
    identity: bool        # names and codes were searched (and names are in the rows)


def personal_code_digits(text: str) -> str | None:
    """The 11 digits of a typed personal code (``XXXXXX-XXXXX`` or ``XXXXXXXXXXX``, spaces
    around it allowed), or None when ``text`` is not one."""
    compact = text.strip()
    if compact.count("-") == 1 and compact.index("-") == 6:
        compact = compact.replace("-", "")
    return compact if len(compact) == 11 and compact.isascii() and compact.isdigit() else None


def search_cases(db: sa.Engine, rt: Runtime, actor: Actor, text: str, *,
                 channel: Channel = Channel.CLI, limit: int = MAX_RESULTS) -> SearchResult:
    """The cases ``text`` finds for ``actor`` (module doc).  ``InvalidSearch`` for an empty
    or overlong query, or one with too many words."""
    query = " ".join(text.split())
    if not query:
        raise InvalidSearch("search.empty")
    if len(query) > MAX_QUERY:
        raise InvalidSearch("search.too_long", limit=MAX_QUERY, length=len(query))
    subject = require(rt, actor, Action.READ_CASES)
    roles = rt.registry.roles
    identity = IDENTITY in visible_groups(roles, subject)
    words = [w[:WORD_LENGTH] for w in fold(query).split()]
    if identity and len(words) > MAX_WORDS:
        raise InvalidSearch("search.too_many_words", limit=MAX_WORDS, count=len(words))
    now = rt.clock.now()
    with db.begin() as conn:
        ways = [_by_reference(conn, query)]
        if identity:
            digits = personal_code_digits(query)
            if digits is not None:
                ways.append(Way(sa.select(CASE.c.id).join(
                    CHILD, CHILD.c.id == CASE.c.child_id).where(
                    CHILD.c.code_hash == code_lookup_hash(rt.code_key, digits))))
            if words:
                ways.append(_by_name(words))
        # A narrow way (at most NARROW cases match it, read from its index) gives its
        # cases' ids; a broad one ("kav", "janis") is a condition checked walking the
        # cases newest first, which soon finds ``limit`` of them.
        ids: set[int] = set()
        broad: list[sa.ColumnElement[bool]] = []
        for way in ways:
            got = conn.execute(way.narrow.limit(NARROW + 1)).scalars().all()
            if len(got) > NARROW and way.broad is not None:
                broad.append(way.broad)
            else:
                ids.update(got)
        matched = ([CASE.c.id.in_(sorted(ids))] if ids else []) + broad
        columns: list[sa.ColumnElement[Any]] = [
            CASE.c.id, CASE.c.reference, CASE.c.case_type, CASE.c.definition_version,
            CASE.c.state, CASE.c.status, CASE.c.owner_institution, CASE.c.opened_at,
            CASE.c.closed_at]
        if identity:
            columns.append(CHILD.c.name.label("child_name"))
        select = (sa.select(*columns).select_from(CASE.join(CHILD, CHILD.c.id == CASE.c.child_id))
                  .where(sa.or_(sa.false(), *matched), visible_cases(roles, subject))
                  .order_by(CASE.c.id.desc()).limit(limit + 1))
        rows = [dict(r) for r in conn.execute(select).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        if identity and rows:   # a name shown is a read of the case's child data
            _log_reads(conn, [r["id"] for r in rows], actor.username, channel, now)
    for r in rows:
        r.setdefault("child_name", None)
    return SearchResult(query, rows, more, identity)


@dataclass(frozen=True)
class Way:
    """One way a query matches cases: ``narrow`` selects their ids through an index;
    ``broad``, the same as a condition on ``case`` that no index serves (so the cases are
    walked newest first), for when very many match (None: never many)."""

    narrow: sa.Select[Any]
    broad: sa.ColumnElement[bool] | None = None


def _by_reference(conn: sa.Connection, query: str) -> Way:
    """Cases whose reference begins with ``query`` (references are upper-case)."""
    prefix = query.upper().replace(" ", "")
    condition = CASE.c.reference.startswith(prefix, autoescape=True)
    if _bytewise(conn):   # the prefix is a range of the reference's index
        condition = sa.and_(CASE.c.reference >= prefix, CASE.c.reference < prefix + _TOP,
                            condition)
    return Way(sa.select(CASE.c.id).where(condition),
               sa.func.upper(CASE.c.reference).startswith(prefix, autoescape=True))


def _bytewise(conn: sa.Connection) -> bool:
    """Text compares byte by byte: SQLite, or a PostgreSQL database whose collation is
    ``C`` (``C.UTF-8``, ``POSIX``).  Under a language's collation a range of the index
    need not hold every string with the prefix, so ``LIKE`` alone decides there."""
    if conn.dialect.name == "sqlite":
        return True
    if conn.dialect.name != "postgresql":
        return False
    key = id(conn.engine)
    if key not in _BYTEWISE:
        collation = conn.execute(sa.text(
            "SELECT datcollate FROM pg_database WHERE datname = current_database()")).scalar()
        _BYTEWISE[key] = str(collation).split(".")[0] in ("C", "POSIX")
    return _BYTEWISE[key]


_BYTEWISE: dict[int, bool] = {}


def _by_name(words: list[str]) -> Way:
    """Cases whose child has, for each word, a name word beginning with it."""
    children = sa.intersect(*(sa.select(NAME_WORD.c.child_id).where(
        NAME_WORD.c.word >= w, NAME_WORD.c.word < w + _TOP) for w in dict.fromkeys(words)))
    return Way(sa.select(CASE.c.id).where(CASE.c.child_id.in_(children)),
               # coalesce: not the child_id index (walk the cases newest first)
               sa.func.coalesce(CASE.c.child_id, 0).in_(children))


def _log_reads(conn: sa.Connection, case_ids: list[int], actor: str, channel: Channel | str,
               at: datetime) -> None:
    if len(case_ids) == 1:
        log_access(conn, case_ids[0], actor, AccessAction.READ, channel, at, LOG_DETAIL)
        return
    conn.execute(sa.insert(ACCESS), [
        {"case_id": c, "actor": actor, "action": AccessAction.READ.value,
         "channel": str(channel), "at": at, "detail": LOG_DETAIL} for c in case_ids])


def other_cases_of_child(conn: sa.Connection, roles: Roles, subject: Subject, case_id: int,
                         child_id: int) -> list[dict[str, Any]]:
    """The child's other cases ``subject`` may reach, newest first: what a case's view
    lists beside it (``engine.queries.case_view``, for a reader of the child's identity)."""
    rows = conn.execute(
        sa.select(CASE.c.reference, CASE.c.case_type, CASE.c.definition_version, CASE.c.state,
                  CASE.c.status, CASE.c.opened_at, CASE.c.closed_at)
        .where(CASE.c.child_id == child_id, CASE.c.id != case_id, visible_cases(roles, subject))
        .order_by(CASE.c.opened_at.desc(), CASE.c.id.desc())).mappings().all()
    return [dict(r) for r in rows]
