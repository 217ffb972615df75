"""A deadline's badge, the same on the case page, the case list and the inbox: which kind
(each page words it in its own catalogue, ``<page>.badge.<kind>``)."""

from __future__ import annotations

#: A deadline this close (working days left) is marked "soon".
SOON_DAYS = 2


def due_badge(overdue: bool, left: int | None, paused: bool, *,
              waiting: bool = False) -> str | None:
    """``waiting`` (the institution reported its step done: the coordinator's turn),
    ``paused`` (its clock stands still), ``overdue``, ``today``, ``soon`` (at most
    ``SOON_DAYS`` working days left), or None. ``left``: working days left (None: no
    deadline)."""
    if waiting:
        return "waiting"
    if paused:
        return "paused"
    if overdue:
        return "overdue"
    if left is None:
        return None
    if left <= 0:
        return "today"
    return "soon" if left <= SOON_DAYS else None
