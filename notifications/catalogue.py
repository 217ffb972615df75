"""The template catalogue: which notification templates exist.

A template is ``templates/<name>.txt`` (subject line, empty line, plain text)
plus ``<name>.html``, one file per format for every language: the words come
from the ``email`` message catalogue (``i18n/locale/<lang>/LC_MESSAGES/email.po``).
Names starting with ``_`` are partials (layouts, shared parts), never sent on
their own.  The workflow validator checks every ``template:`` a declaration
names against ``template_names()``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent / "templates"


def template_names(directory: Path = TEMPLATES_DIR) -> frozenset[str]:
    return frozenset(p.stem for p in directory.glob("*.txt") if not p.stem.startswith("_"))


# --- when an email goes out (notifications.timing) ---------------------------------------

#: Emails about same-day legal duties: sent at once, alone, never held (BTAL 73(1)).
URGENT_TEMPLATES = frozenset({"urgent_report"})
#: Sent at once and alone: a delivery failure is for a person to act on now.
IMMEDIATE_TEMPLATES = frozenset({"delivery_failed"})
#: Reminders and overdue notices of the scheduler: sent within working hours only, and
#: all of them to one recipient that are waiting go out as one email (across cases).
REMINDER_TEMPLATES = frozenset({"task_reminder", "task_overdue", "escalation_head"})
#: The daily digest: within working hours only, alone.
DIGEST_TEMPLATES = frozenset({"digest"})
#: The email that carries several notices to one recipient (``notifications.compose``).
NOTICES_TEMPLATE = "notices"

_LOCALE_DIR = Path(__file__).resolve().parent.parent / "i18n" / "locale"
_WORDS = "email"   # the message catalogue the templates take their words from


def template_version(names: Iterable[str], locale: str,
                     directory: Path = TEMPLATES_DIR) -> str:
    """``<first name>@<12 hex>``: a fingerprint of what an email was made from: the
    named templates' ``.txt`` and ``.html``, every partial, and the ``email`` catalogue
    of ``locale``.  Any change of their words or layout gives a new version."""
    names = list(names)
    files = [directory / f"{n}.{kind}" for n in sorted(set(names)) for kind in ("txt", "html")]
    files += sorted(p for p in directory.iterdir() if p.name.startswith("_"))
    files.append(_LOCALE_DIR / locale / "LC_MESSAGES" / f"{_WORDS}.po")
    stamp = tuple((str(p), *_stat(p)) for p in files)
    return f"{names[0]}@{_digest(stamp)}"


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=256)
def _digest(stamp: tuple[tuple[str, int, int], ...]) -> str:
    """The hash of the files' contents (cached while their mtimes and sizes stay)."""
    h = hashlib.sha256()
    for path, _mtime, size in stamp:
        h.update(Path(path).name.encode() + b"\0")
        if size >= 0:
            h.update(Path(path).read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:12]
