"""Memory: one shared ``transitions`` machine against one machine per case.

For the ``absences`` workflow and 10,000 case states (cycling through every
(source state, trigger) pair the declaration allows):

* ``shared``: the engine's pattern (``engine.machine.SharedMachine``): one
  ``Machine`` per workflow version and one pooled proxy whose ``state`` is set
  from the row; one transition fired for each of the 10,000 case states.
* ``per_case``: 10,000 ``transitions.Machine`` objects built from the same
  declaration (``auto_transitions=False``, ``send_event=True``, the machine
  being its own model), kept alive together, one transition fired on each.

Memory is what ``tracemalloc`` sees allocated by the pattern while its result
is still alive (current) and at the high-water mark (peak), over the baseline
taken just before it starts; the workflow definition is loaded beforehand and
counted in neither.  Time per case is measured separately, without tracemalloc
(it slows allocation), after a warm-up.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from itertools import cycle, islice
from typing import Any

from transitions import Machine

from engine.definitions import Workflow
from engine.guards import GUARDS, GuardContext
from engine.machine import SharedMachine

Pairs = list[tuple[str, str]]


def case_states(wf: Workflow, n: int) -> Pairs:
    """``n`` (state, trigger) pairs: every source state of every transition, in turn."""
    pairs = [(source, t.trigger) for t in wf.transitions for source in t.source]
    return list(islice(cycle(pairs), n))


def _passes(ctx: GuardContext) -> None:
    return None


def shared(wf: Workflow, pairs: Pairs) -> Any:
    """Every guard passes here: this measures the machine, not the guards."""
    machine = SharedMachine(wf, dict.fromkeys(GUARDS, _passes))
    ctx = GuardContext(data={}, fields={}, param=lambda name: None)
    return machine, [machine.next_state(state, trigger, ctx) for state, trigger in pairs]


def per_case(wf: Workflow, pairs: Pairs) -> Any:
    spec = [{"trigger": t.trigger, "source": list(t.source), "dest": t.dest}
            for t in wf.transitions]
    machines = []
    for state, trigger in pairs:
        m = Machine(states=list(wf.states), initial=state, transitions=spec,
                    auto_transitions=False, ignore_invalid_triggers=False, send_event=True)
        m.trigger(trigger)
        machines.append(m)
    return machines


def traced(pattern: Callable[[Workflow, Pairs], Any], wf: Workflow, pairs: Pairs
           ) -> tuple[int, int]:
    """(current, peak) bytes allocated by ``pattern`` above the baseline."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = pattern(wf, pairs)
        current, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    gc.collect()
    return current - base, peak - base


def timed(pattern: Callable[[Workflow, Pairs], Any], wf: Workflow, pairs: Pairs) -> float:
    """Seconds for ``pattern`` over ``pairs`` (untraced, GC as usual)."""
    gc.collect()
    t0 = time.perf_counter()
    result = pattern(wf, pairs)
    elapsed = time.perf_counter() - t0
    del result
    return elapsed


def run(wf: Workflow, n: int = 10_000, log: Callable[[str], None] = print) -> dict[str, Any]:
    pairs = case_states(wf, n)
    log(f"  warm-up on {min(n, 500)} case states")
    shared(wf, pairs[:500])
    per_case(wf, pairs[:500])
    out: dict[str, Any] = {"cases": n, "workflow": f"{wf.case_type} v{wf.version}"}
    for name, pattern in (("shared", shared), ("per_case", per_case)):
        log(f"  {name}: tracemalloc over {n} case states")
        current, peak = traced(pattern, wf, pairs)
        log(f"  {name}: timing {n} case states")
        seconds = timed(pattern, wf, pairs)
        out[name] = {"current_bytes": current, "peak_bytes": peak, "us_per_case": seconds / n * 1e6}
    out["ratio_current"] = out["per_case"]["current_bytes"] / max(1, out["shared"]["current_bytes"])
    out["ratio_peak"] = out["per_case"]["peak_bytes"] / max(1, out["shared"]["peak_bytes"])
    out["ratio_time"] = out["per_case"]["us_per_case"] / out["shared"]["us_per_case"]
    return out
