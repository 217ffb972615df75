"""The only module that imports ``transitions``: it decides where a trigger leads.

One ``Machine`` per (case type, version) serves every case.  A case is never
a machine object: before firing, the row's state is copied onto a small
pooled proxy (one per thread), the shared machine moves the proxy, and the
caller reads the new state back.  ``auto_transitions`` is off, so there are
no ``to_<state>()`` jumps that would skip the engine's checks.

Each transition's guards (``engine.guards``, named in the declaration) are its
``conditions``: the machine evaluates them on the ``GuardContext`` the write
path passes, and moves only when all pass.  When they do not, the write path
asks the same guard objects which one failed and why (``guards.first_failure``),
so a refusal names the guard and its values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from transitions import EventData, Machine, MachineError

from engine.definitions import Workflow
from engine.guards import Guard, GuardContext

#: The keyword that carries the ``GuardContext`` through ``trigger(...)``.
_CTX = "ctx"


class _Proxy:
    """Plain holder the shared machine moves; never a database row."""

    state: str = ""
    trigger: Callable[..., bool]   # attached by Machine.add_model


def _condition(guard: Guard) -> Callable[[EventData], bool]:
    def passes(event: EventData) -> bool:
        return guard(event.kwargs[_CTX]) is None
    return passes


class SharedMachine:
    def __init__(self, workflow: Workflow, guards: Mapping[str, Guard]):
        self.workflow = workflow
        self._machine = Machine(
            model=None,
            states=list(workflow.states),
            initial=workflow.initial,
            transitions=[
                {"trigger": t.trigger, "source": list(t.source), "dest": t.dest,
                 "conditions": [_condition(guards[name]) for name in t.guards]}
                for t in workflow.transitions
            ],
            auto_transitions=False,
            ignore_invalid_triggers=False,
            send_event=True,
        )
        self._local = threading.local()

    def _proxy(self) -> _Proxy:
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:
            proxy = _Proxy()
            self._machine.add_model(proxy, initial=self.workflow.initial)
            self._local.proxy = proxy
        return proxy

    def next_state(self, state: str, trigger: str, ctx: GuardContext) -> str | None:
        """The state ``trigger`` leads to from ``state`` when the transition's guards
        pass on ``ctx``; None when a guard refuses.  ``MachineError`` if the trigger is
        not valid in ``state`` (the write path checks that first, with a precise error)."""
        proxy = self._proxy()
        proxy.state = state
        moved: bool = proxy.trigger(trigger, **{_CTX: ctx})
        return proxy.state if moved else None


class MachineCache:
    """Builds each shared machine once, on first use."""

    def __init__(self, guards: Mapping[str, Guard]) -> None:
        self._guards = guards
        self._machines: dict[tuple[str, int], SharedMachine] = {}
        self._lock = threading.Lock()

    def get(self, workflow: Workflow) -> SharedMachine:
        key = (workflow.case_type, workflow.version)
        machine = self._machines.get(key)
        if machine is None:
            with self._lock:
                machine = self._machines.setdefault(key, SharedMachine(workflow, self._guards))
        return machine


__all__ = ["MachineCache", "MachineError", "SharedMachine"]
