"""Why a case comes before the cooperation group: the configured escalation reasons
(``cooperation_group.yaml`` ``escalation_reasons``) and their titles."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.errors import Named, NotPermitted
from engine.municipality import EscalationReason
from engine.runtime import Runtime


class UnknownReason(NotPermitted):
    """An escalation reason that is not configured, or not one a person may give."""

    def __init__(self, reason: str, code: str, **params: Any) -> None:
        self.reason = reason
        super().__init__(code, reason=reason, **params)


def _named(rt: Runtime, codes: Iterable[str]) -> tuple[Named, ...]:
    reasons = rt.municipality.cooperation_group.escalation_reasons
    return tuple(Named(c, reasons[c].title) for c in codes)


def reason_spec(rt: Runtime, code: str) -> EscalationReason:
    spec = rt.municipality.cooperation_group.reason(code)
    if spec is None:
        raise UnknownReason(code, "escalate.unknown_reason", known=_named(
            rt, rt.municipality.cooperation_group.escalation_reasons))
    return spec


def reason_title(rt: Runtime, code: str, locale: str) -> str:
    """The reason's title in ``locale``; a code no longer configured, as it is."""
    spec = rt.municipality.cooperation_group.reason(code)
    return code if spec is None else spec.title.get(locale)


def manual_reasons(rt: Runtime) -> list[str]:
    """The reasons a person may refer a case for by hand (``manual: true``)."""
    return [code for code, spec in rt.municipality.cooperation_group.escalation_reasons.items()
            if spec.manual]


def check_manual(rt: Runtime, reason: str) -> None:
    """``UnknownReason`` unless ``reason`` is one a person may give."""
    spec = rt.municipality.cooperation_group.reason(reason)
    if spec is None or not spec.manual:
        raise UnknownReason(reason, "escalate.not_manual" if spec else "escalate.unknown_manual",
                            manual=_named(rt, manual_reasons(rt)))
