"""The child a case is about: one row per child, found by a keyed hash of the
personal code, so repeated cases (a second substance case, a reopened absence
case) link to the same child.

The child's identity (name, personal code, birth date) lives only in the
``child`` table, never in events, outbox payloads or logs.  The personal code
is looked up by ``code_lookup_hash`` (HMAC-SHA-256 under the installation's key),
never by its digits.
"""

from __future__ import annotations

import hashlib
import hmac

import sqlalchemy as sa

from engine.personal_code import PersonalCode
from engine.store import CHILD, insert_or_ignore

_BY_HASH = sa.select(CHILD.c.id, CHILD.c.name).where(CHILD.c.code_hash == sa.bindparam("b_hash"))


def code_lookup_hash(key: bytes, digits: str) -> str:
    return hmac.new(key, digits.encode("ascii"), hashlib.sha256).hexdigest()


def child_id(conn: sa.Connection, key: bytes, name: str, code: PersonalCode) -> tuple[int, bool]:
    """The child with this personal code, created if new, and whether an existing
    child's different name was kept."""
    digest = code_lookup_hash(key, code.digits())
    conn.execute(insert_or_ignore(conn, CHILD, "code_hash"), {
        "name": name, "personal_code": code.code, "code_format": code.format,
        "birth_date": code.birth_date, "code_hash": digest})
    row = conn.execute(_BY_HASH, {"b_hash": digest}).one()
    return int(row.id), row.name != name

