"""The engine's errors: each one a stable code and its parameters.

Every error a user can cause is a ``GaitaError``.  Its ``code`` is a key of the
``errors`` message catalogue (``error.<code>`` in
``i18n/locale/<lang>/LC_MESSAGES/errors.po``) and its ``params`` fill the
catalogue's text.  ``str(error)`` is the English text naming things by their
codes, for logs and the command line; the web pages, the REST API and the
email-link pages render the same error in the reader's language
(``i18n.messages.render``), never by parsing this text.  Entry points map the
classes to exit codes (CLI) or HTTP statuses (web); the engine knows neither.

A parameter may be a ``Message`` (a reason with a code of its own: a guard's,
the access policy's, a field's), a ``Named`` thing (a state, a trigger, a field:
its code, and its declared title), a text declared in both languages, or a list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from i18n.messages import render


class Titled(Protocol):
    def get(self, locale: str) -> str: ...


@dataclass(frozen=True)
class Message:
    """A sentence by code: ``error.<code>`` of the catalogue, with its parameters."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return render("en", self, codes=True)


def msg(code: str, /, **params: Any) -> Message:
    return Message(code, params)


@dataclass(frozen=True)
class Named:
    """Something declared that a message names: its code, and its title if declared
    (pages show the title; the command line and logs the code)."""

    code: str
    title: Titled | None = None

    def __str__(self) -> str:
        return self.code


class GaitaError(Exception):
    """Base class: a ``Message`` (``code``, ``params``) a user can act on.  A subclass
    may name the ``code`` its instances take by default."""

    code: str = "error"

    def __init__(self, code: str | None = None, /, **params: Any) -> None:
        self.code = code or type(self).code
        self.params: Mapping[str, Any] = params
        self.message = Message(self.code, params)
        super().__init__(self.code)

    def __str__(self) -> str:
        return str(self.message)

    def __reduce__(self) -> Any:   # picklable across processes (pytest-xdist, workers)
        return _rebuild, (type(self), self.message, dict(self.__dict__))


def _rebuild(cls: type[GaitaError], message: Message, state: dict[str, Any]) -> GaitaError:
    error = cls.__new__(cls)
    Exception.__init__(error, message.code)
    error.__dict__.update(state)
    return error


@dataclass(frozen=True, eq=False)
class Problem:
    """One problem in a declaration or config file, located by file and line: a
    ``Message`` by code, like every error.  ``loc`` is where in the file's data it is
    (a pydantic-style path of keys and indexes, ``()``: the whole file), for a page
    that links a problem to the input it is about; it is not part of the text.

    Two problems are the same when their file, line and text are: a problem in a
    shared YAML anchor is reported once, not once per alias."""

    file: str
    line: int | None
    reason: Message
    loc: tuple[int | str, ...] = ()

    @property
    def code(self) -> str:
        return "declaration.problem"

    @property
    def params(self) -> Mapping[str, Any]:
        return {"where": f"{self.file}:{self.line}" if self.line else self.file,
                "reason": self.reason}

    def __str__(self) -> str:
        return render("en", self, codes=True)

    def _key(self) -> tuple[str, int | None, str]:
        return self.file, self.line, str(self.reason)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def problem(file: str, line: int | None, code: str, /, **params: Any) -> Problem:
    return Problem(file, line, Message(code, params))


class InvalidDeclaration(GaitaError):
    """A workflow or configuration file is malformed; lists every problem."""

    def __init__(self, problems: Iterable[Problem]):
        # dict.fromkeys: a problem in a shared YAML anchor is reported once, not per alias
        self.problems: tuple[Problem, ...] = tuple(dict.fromkeys(problems))
        super().__init__("declaration.invalid", lines=self.problems)


class InvalidWorkflowDefinition(InvalidDeclaration):
    """A ``workflows/*.yaml`` file failed validation."""


class ConfigError(InvalidDeclaration):
    """A municipality config file is missing, corrupt or inconsistent."""


class NotFound(GaitaError):
    """Something named by the user does not exist."""

    code = "not_found"


class UnknownCaseType(NotFound):
    def __init__(self, case_type: str, known: Sequence[str]):
        self.case_type, self.known = case_type, tuple(known)
        super().__init__("case_type.unknown", case_type=case_type, known=self.known)


class UnknownState(NotFound):
    """A state ``case_type`` does not declare (``None``: that no case type declares)."""

    def __init__(self, case_type: str | None, state: str, known: Sequence[str] = ()):
        self.case_type, self.state = case_type, state
        if case_type is None:
            super().__init__("state.unknown_anywhere", state=state)
        else:
            super().__init__("state.unknown", case_type=case_type, state=state, known=tuple(known))


class CaseNotFound(NotFound):
    def __init__(self, reference: str):
        self.reference = reference
        super().__init__("case.not_found", reference=reference)


class UserNotFound(NotFound):
    def __init__(self, username: str):
        self.username = username
        super().__init__("user.not_found", username=username)


class NotPermitted(GaitaError):
    """The request is understood but the rules forbid it."""

    code = "not_permitted"


class UnknownTrigger(NotPermitted):
    def __init__(self, case_type: str, trigger: str, valid: Sequence[Named]):
        self.case_type, self.trigger = case_type, trigger
        self.valid = tuple(v.code for v in valid)
        super().__init__("trigger.unknown", case_type=case_type, trigger=trigger,
                         valid=tuple(valid))


class TransitionNotAllowed(NotPermitted):
    def __init__(self, reference: str, trigger: Named, state: Named, valid: Sequence[Named]):
        self.reference, self.trigger, self.state = reference, trigger.code, state.code
        self.valid = tuple(v.code for v in valid)
        super().__init__("transition.not_allowed" if valid else "transition.case_closed",
                         reference=reference, trigger=trigger, state=state, valid=tuple(valid))


class PermissionDenied(NotPermitted):
    code = "permission_denied"


class AccessDenied(PermissionDenied):
    """The access policy (``engine.policy``) refuses ``role`` the ``action`` (on the case
    ``reference``, or in general), for ``reason`` (the policy's own message)."""

    def __init__(self, role: Named, action: Message, reference: str | None, reason: Message):
        self.reference, self.reason = reference, reason
        if reference:
            super().__init__("access.denied_case", role=role, action=action,
                             reference=reference, reason=reason)
        else:
            super().__init__("access.denied", role=role, action=action, reason=reason)


class FieldError(NotPermitted):
    """A field is missing or has the wrong type: ``field`` is its name, ``reason`` why."""

    def __init__(self, field: str, reason: Message, *, title: Titled | None = None):
        self.field, self.reason = field, reason
        super().__init__("field.invalid", field=Named(field, title), reason=reason)


class GuardFailed(NotPermitted):
    def __init__(self, guard: str, reason: Message):
        self.guard, self.reason = guard, reason
        super().__init__("guard.failed", guard=guard, reason=reason)


class InvalidPersonalCode(NotPermitted):
    """A personal code that is not one; ``reason`` says what is wrong (never the code)."""

    def __init__(self, reason: Message):
        self.reason = reason
        super().__init__("personal_code.invalid", reason=reason)


class InvalidQuery(GaitaError):
    """A list or report was asked for with a value it does not take: ``parameter`` is
    ``sort``, ``risk``, ``weeks`` or ``page`` (``query.parameter.<name>`` names it)."""

    def __init__(self, parameter: str, value: object, allowed: Sequence[str | Message]):
        self.parameter, self.value, self.allowed = parameter, value, tuple(allowed)
        super().__init__("query.invalid", parameter=msg(f"query.parameter.{parameter}"),
                         value=value, allowed=self.allowed)


class InvalidSearch(GaitaError):
    """A search that cannot be run (``engine.search``): empty, or longer than ``limit``."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code, **params)


class DuplicateCase(GaitaError):
    """Opening a case for a child who already has an open case of the type
    (``engine.cases.open_case(warn_duplicate=True)``): ``references``, newest first.
    ``repeated``: a new case would also be queued for the cooperation group as repeated.
    Nothing was saved; opening again with the confirmation opens it."""

    def __init__(self, case_type: Named, references: Sequence[str], repeated: bool):
        self.references, self.repeated = tuple(references), repeated
        super().__init__("case.duplicate_open_repeated" if repeated else "case.duplicate_open",
                         case_type=case_type, references=self.references)


class StaleCase(GaitaError):
    """Optimistic-lock conflict: the case changed since it was read."""

    def __init__(self, reference: str, expected: int, actual: int | None):
        self.reference, self.expected, self.actual = reference, expected, actual
        super().__init__("case.stale", reference=reference, expected=expected, actual=actual)


class DatabaseUnavailable(GaitaError):
    def __init__(self, url: str, reason: Message | str):
        self.url, self.reason = url, reason
        super().__init__("database.unavailable", url=url, reason=reason)
