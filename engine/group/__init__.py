"""The Child Rights Protection cooperation group: its queue, meetings and decisions
(DOMAIN.md §5).

The group is an escalation target, not an owner: a queued case keeps its
owning institution.  A case has at most one open escalation (queued or
scheduled for a meeting); a further reason while it is open is added to it.

Why a case comes before the group is configured, not coded
(``cooperation_group.yaml`` ``escalation_reasons``, each with a Latvian and an
English title; ``reasons``): the tick gives ``stalled`` when a ladder runs out,
a workflow transition may declare ``escalate: <reason>``, ``open_case`` gives
``repeated_case`` (``repeated_case_windows``), a coordinator may refer a case
by hand for the reasons marked ``manual``, and a meeting's agenda brings back,
as ``follow_up``, every case whose decision tasks are still open.

- ``queue``: putting a case in the queue, and the queue ordered by urgency;
- ``meetings``: planning a meeting takes its agenda from the queue; what a
  meeting shows;
- ``decisions``: a decision records the agreed actions, each a tracked
  ``decision`` task of an institution that the tick reminds and escalates like
  any other.
"""
