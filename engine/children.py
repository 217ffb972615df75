"""The child a case is about: one row per child, found by a keyed hash of the
personal code, so repeated cases (a second substance case, a reopened absence
case) link to the same child.

The child's identity (name, personal code, birth date) lives only in the
``child`` table, never in events, outbox payloads or logs.  The personal code
is looked up by ``code_lookup_hash`` (HMAC-SHA-256 under the installation's key),
never by its digits.  The words of the name, folded (``name_words``), are kept in
``child_name_word`` for the search (``engine.search``); the code never is.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

import sqlalchemy as sa

from engine.personal_code import PersonalCode
from engine.store import CHILD, NAME_WORD, insert_or_ignore

_BY_HASH = sa.select(CHILD.c.id, CHILD.c.name).where(CHILD.c.code_hash == sa.bindparam("b_hash"))
#: Longest word kept (the column's length); a longer one is cut, and so is its query.
WORD_LENGTH = 64


def code_lookup_hash(key: bytes, digits: str) -> str:
    return hmac.new(key, digits.encode("ascii"), hashlib.sha256).hexdigest()


def fold(text: str) -> str:
    """``text`` lower-case with its diacritics dropped and anything but letters and
    digits made a space: "Bērziņš-Ozola" -> "berzins ozola"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join("".join(ch if ch.isalnum() else " " for ch in kept).split())


def name_words(name: str) -> list[str]:
    """The distinct words of a name as searched (``fold``), each at most ``WORD_LENGTH``."""
    return list(dict.fromkeys(w[:WORD_LENGTH] for w in fold(name).split()))


def add_name_words(conn: sa.Connection, child: int, name: str) -> None:
    """Index a child's name for the search (idempotent)."""
    words = name_words(name)
    if words:
        conn.execute(insert_or_ignore(conn, NAME_WORD, "word", "child_id"),
                     [{"word": w, "child_id": child} for w in words])


def child_id(conn: sa.Connection, key: bytes, name: str, code: PersonalCode) -> tuple[int, bool]:
    """The child with this personal code, created if new, and whether an existing
    child's different name was kept."""
    digest = code_lookup_hash(key, code.digits())
    created = conn.execute(insert_or_ignore(conn, CHILD, "code_hash"), {
        "name": name, "personal_code": code.code, "code_format": code.format,
        "birth_date": code.birth_date, "code_hash": digest}).rowcount
    row = conn.execute(_BY_HASH, {"b_hash": digest}).one()
    if created:
        add_name_words(conn, int(row.id), name)
    return int(row.id), row.name != name
