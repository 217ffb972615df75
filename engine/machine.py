"""The only module that imports ``transitions``.

One ``Machine`` per (case type, version) serves every case.  A case is never
a machine object: before firing, the row's state is copied onto a small
pooled proxy (one per thread), the shared machine moves the proxy, and the
caller reads the new state back.  ``auto_transitions`` is off, so there are
no ``to_<state>()`` jumps that would skip the engine's checks.
"""

from __future__ import annotations

import threading

from transitions import Machine, MachineError

from engine.definitions import Workflow


class _Proxy:
    """Plain holder the shared machine moves; never a database row."""

    state: str = ""


class SharedMachine:
    def __init__(self, workflow: Workflow):
        self.workflow = workflow
        self._machine = Machine(
            model=None,
            states=list(workflow.states),
            initial=workflow.initial,
            transitions=[
                {"trigger": t.trigger, "source": list(t.source), "dest": t.dest}
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

    def next_state(self, state: str, trigger: str) -> str | None:
        """The state ``trigger`` leads to from ``state``, or None if it is not valid there."""
        proxy = self._proxy()
        proxy.state = state
        try:
            proxy.trigger(trigger)  # type: ignore[attr-defined]
        except (MachineError, AttributeError):
            return None
        return proxy.state


class MachineCache:
    """Builds each shared machine once, on first use."""

    def __init__(self) -> None:
        self._machines: dict[tuple[str, int], SharedMachine] = {}
        self._lock = threading.Lock()

    def get(self, workflow: Workflow) -> SharedMachine:
        key = (workflow.case_type, workflow.version)
        machine = self._machines.get(key)
        if machine is None:
            with self._lock:
                machine = self._machines.setdefault(key, SharedMachine(workflow))
        return machine
