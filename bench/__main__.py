"""``python -m bench [--json]``: run the benchmarks and print one table.

Rows (each ratio is A/B, both measured in this run):
* fire() vs Core / Core prebuilt: µs per durable transition through
  ``engine.cases.fire`` against the same five writes as plain SQLAlchemy Core,
  statements built per call or built once (``bench.transitions``,
  ``bench.baseline``), on SQLite (WAL) and PostgreSQL (skipped without binaries);
* email delivery: ``DeliveryWorker.deliver()`` against the same messages, composed
  beforehand, sent with plain aiosmtplib to an in-process aiosmtpd; and per message,
  Jinja rendering and the whole ``Composer.compose`` against building the bare
  ``EmailMessage`` (``bench.mail``);
* per-case machines vs shared: memory and time of 10,000 ``transitions``
  machines against the one shared machine (``bench.memory``);
* scheduler sweep: one ``engine.escalation.tick`` over 1,000 due tasks with
  10k, 100k and 1M open tasks on PostgreSQL (10k and 100k on SQLite), largest
  against smallest; and the tick's claim through ``ix_task_next_check``
  against the same claim as a full scan (``bench.sweep``);
* web pages: p95 latency of the dashboard and the filtered case list with
  10,000 open cases on SQLite, against the 200 ms target and against
  ``/healthz`` on the same server (``bench.web``);
* scale: p50/p95 of search, every work queue (``/cases?queue=...``), the case list
  and the dashboard with ``--scale-cases`` cases (10,000; 100,000 for the issue's
  benchmark) on SQLite and on PostgreSQL (a copy of the same rows), against their
  targets and ``/healthz`` (``bench.scale``).
Progress goes to stderr; ``--json`` prints the figures as JSON instead of the table;
``--only mail`` (or transitions, memory, sweep, web) runs one part.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import mail, memory, scale, sweep, transitions, web

TARGET = 1.5   # fire() at most 1.5x raw Core writes; the tick at 1M tasks at most 1.5x at 10k
Row = tuple[str, str, str, str, str]   # figure, A, B, A/B, note


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(), "cpu": cpu, "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "sqlalchemy": version("sqlalchemy"), "transitions": version("transitions"),
            "aiosmtplib": version("aiosmtplib"), "aiosmtpd": version("aiosmtpd"),
            "jinja2": version("jinja2"),
            "loadavg_1min_at_start": round(os.getloadavg()[0], 2)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--cases", type=int, default=2000, help="absences cases per database")
    p.add_argument("--transitions", type=int, default=3000, help="timed transitions per side")
    p.add_argument("--rounds", type=int, default=4,
                   help="interleaved blocks (fire/core/prebuilt; raw/worker emails)")
    p.add_argument("--warmup", type=int, default=300, help="untimed transitions per side")
    p.add_argument("--memory-cases", type=int, default=10_000, help="case states for memory")
    p.add_argument("--emails", type=int, default=1000, help="queued emails for the mail bench")
    p.add_argument("--sweep-sizes", type=_sizes, default=(10_000, 100_000, 1_000_000),
                   help="open tasks per PostgreSQL database for the sweep (comma-separated)")
    p.add_argument("--sweep-sqlite-sizes", type=_sizes, default=(10_000, 100_000),
                   help="open tasks per SQLite database for the sweep (comma-separated)")
    p.add_argument("--sweep-due", type=int, default=1000, help="due tasks per sweep database")
    p.add_argument("--sweep-closed", type=float, default=1.0,
                   help="closed tasks per open task in the sweep's databases")
    p.add_argument("--sweep-rounds", type=int, default=3, help="timed ticks per sweep database")
    p.add_argument("--web-cases", type=int, default=10_000, help="open cases for the web bench")
    p.add_argument("--web-requests", type=int, default=100, help="timed requests per page")
    p.add_argument("--scale-cases", type=int, default=10_000,
                   help="cases for the scale bench (search, queues, case list)")
    p.add_argument("--scale-requests", type=int, default=30, help="timed requests per page")
    p.add_argument("--scale-db", type=Path, default=None,
                   help="keep the scale bench's generated SQLite file here; reused when it "
                        "holds --scale-cases cases")
    p.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    p.add_argument("--only", choices=("all", "transitions", "mail", "memory", "sweep", "web",
                                      "scale"),
                   default="all", help="run one part only")
    args = p.parse_args(argv)
    if min(args.sweep_sizes + args.sweep_sqlite_sizes) <= args.sweep_due:
        p.error("every sweep size must be larger than --sweep-due")
    return args


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(sorted(int(x.replace("_", "")) for x in text.split(",")))


def collect(args: argparse.Namespace) -> dict[str, Any]:
    kw = {"cases": args.cases, "transitions": args.transitions, "rounds": args.rounds,
          "warmup": args.warmup}
    out: dict[str, Any] = {"machine": machine_info(), "target_ratio": TARGET, "phase_seconds": {}}
    def phase(name: str, title: str, run: Callable[[], dict[str, Any]]) -> None:
        log(title)
        t0 = time.perf_counter()
        out[name] = run()
        out["phase_seconds"][name] = round(time.perf_counter() - t0, 1)
    wanted = ({"transitions", "mail", "memory", "sweep", "web", "scale"} if args.only == "all"
              else {args.only})
    out["machine"]["postgresql"] = None
    if "transitions" in wanted:
        phase("sqlite", "SQLite (WAL file in a temp dir)",
              lambda: transitions.run_sqlite(log, **kw))
        if args.no_pg:
            out["postgresql"] = {"backend": "postgresql", "skipped": "--no-pg"}
        else:
            phase("postgresql", "PostgreSQL (throwaway server from tests.pg)",
                  lambda: transitions.run_postgres(log, **kw))
        out["machine"]["postgresql"] = out["postgresql"].get("version")
    if "mail" in wanted:
        phase("mail", f"Email delivery: {args.emails} emails, SQLite WAL, aiosmtpd on localhost",
              lambda: mail.run(log, emails=args.emails, rounds=args.rounds))
    if "memory" in wanted:
        from gaita.bootstrap import load_declarations
        from gaita.settings import load_settings

        wf = load_declarations(load_settings({}))[1].latest(transitions.CASE_TYPE)
        phase("memory", "Memory: shared machine vs one machine per case",
              lambda: memory.run(wf, args.memory_cases, log))
    if "sweep" in wanted:
        skw = {"due": args.sweep_due, "closed_per_open": args.sweep_closed,
               "rounds": args.sweep_rounds, "claims": 9, "scans": 5}
        phase("sweep_sqlite", "Scheduler sweep, SQLite WAL: "
              + ", ".join(_size(n) for n in args.sweep_sqlite_sizes) + " open tasks",
              lambda: sweep.run_sqlite(log, sizes=args.sweep_sqlite_sizes, **skw))
        if args.no_pg:
            out["sweep_postgresql"] = {"backend": "postgresql", "skipped": "--no-pg"}
        else:
            phase("sweep_postgresql", "Scheduler sweep, PostgreSQL: "
                  + ", ".join(_size(n) for n in args.sweep_sizes) + " open tasks",
                  lambda: sweep.run_postgres(log, sizes=args.sweep_sizes, **skw))
            out["machine"]["postgresql"] = (out["machine"]["postgresql"]
                                            or out["sweep_postgresql"].get("version"))
    if "web" in wanted:
        phase("web", f"Web pages: {args.web_cases:,} open cases, SQLite WAL, uvicorn on loopback",
              lambda: web.run(log, cases=args.web_cases, requests=args.web_requests))
    if "scale" in wanted:
        phase("scale", f"Search, work queues and case list: {args.scale_cases:,} cases, "
              "SQLite WAL and PostgreSQL, uvicorn on loopback",
              lambda: scale.run(log, cases=args.scale_cases, requests=args.scale_requests,
                                db=args.scale_db, postgres=not args.no_pg))
    return out


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _size(n: int) -> str:
    """10k, 100k, 1M."""
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if n >= div and n % div == 0:
            return f"{n // div:,}{unit}"
    return f"{n:,}"


def table(r: dict[str, Any]) -> str:
    m = r["machine"]
    rows: list[Row] = []
    for key, name in (("sqlite", "SQLite WAL"), ("postgresql", "PostgreSQL")):
        if key not in r:
            continue
        t = r[key]
        if "skipped" in t:
            rows.append((f"{name}: fire() vs Core", "skipped", "skipped", "-", t["skipped"]))
            continue
        for base, label, ratio in (("core", "Core", "ratio"),
                                   ("prebuilt", "Core prebuilt", "ratio_prebuilt")):
            verdict = "within" if t[ratio] <= TARGET else "OVER"
            rows.append((f"{name}: fire() vs {label}, µs/transition", _n(t["fire_us"]),
                         _n(t[f"{base}_us"]), f"{t[ratio]:.2f}x", f"{verdict} {TARGET}x target"))
        rows.append((f"{name}: fire() vs Core prebuilt, transitions/s", _n(t["fire_per_s"]),
                     _n(t["prebuilt_per_s"]), f"{t['prebuilt_us'] / t['fire_us']:.2f}x",
                     f"Core {t['core_per_s']:,.0f}/s; {t['transitions']:,} each, "
                     f"{t['cases']:,} cases"))
    if "mail" in r:
        rows += mail_rows(r["mail"])
    if "memory" in r:
        rows += memory_rows(r["memory"])
    for key, name in (("sweep_postgresql", "PostgreSQL"), ("sweep_sqlite", "SQLite WAL")):
        if key in r:
            rows += sweep_rows(name, r[key])
    if "web" in r:
        rows += web_rows(r["web"])
    if "scale" in r:
        rows += scale_rows(r["scale"])
    head = ("figure", "A", "B", "A/B", "note")
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(5)]
    def line(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0]),
                 *(c.rjust(w) for c, w in zip(row[1:4], widths[1:4], strict=True))]
        return "  ".join([*cells, row[4]]).rstrip()
    title = (f"Gaita bench {m['date']} | {m['nproc']} CPU ({m['cpu']}), {m['os']}, "
             f"load {m['loadavg_1min_at_start']} | "
             f"Python {m['python']}, SQLite {m['sqlite']}, PostgreSQL {m['postgresql'] or '-'}, "
             f"SQLAlchemy {m['sqlalchemy']}, transitions {m['transitions']}, "
             f"aiosmtplib {m['aiosmtplib']}, aiosmtpd {m['aiosmtpd']}, Jinja2 {m['jinja2']}")
    rule = "-" * len(line(head))
    return "\n".join([title, rule, line(head), rule, *map(line, rows), rule,
                      f"total run time {r['seconds']:.0f} s ("
                      + ", ".join(f"{k} {v:.0f} s" for k, v in r["phase_seconds"].items()) + ")"])


def mail_rows(e: dict[str, Any]) -> list[Row]:
    n, st = f"{e['emails']:,}", e["worker_steps_us"]
    return [
        ("Email delivery: worker vs raw aiosmtplib, µs/email", _n(e["worker_us"]),
         _n(e["raw_us"]), f"{e['ratio']:.2f}x",
         f"{n} each, SQLite WAL, aiosmtpd in-process; server got {e['received']['raw']:,} + "
         f"{e['received']['worker']:,}"),
        ("Email delivery: worker vs raw aiosmtplib, emails/s", _n(e["worker_per_s"]),
         _n(e["raw_per_s"]), f"{e['raw_us'] / e['worker_us']:.2f}x",
         f"worker µs: compose {st['compose']:,.0f}, send+rest {st['send_and_rest']:,.0f}, "
         f"mark sent {st['mark_sent']:,.0f}, claim+connect {st['claim'] + st['connect']:,.0f}"),
        ("Email render (Jinja text+HTML) vs bare EmailMessage, µs", _n(e["render_us"]),
         _n(e["mime_us"]), f"{e['ratio_render']:.2f}x", f"{n} task_assigned, lv"),
        ("Email compose (reads+render+links+MIME) vs bare EmailMessage, µs",
         _n(e["compose_us"]), _n(e["mime_us"]), f"{e['ratio_compose']:.2f}x",
         "Composer.compose(conn, row)"),
    ]


def memory_rows(mem: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    s, p, n = mem["shared"], mem["per_case"], f"{mem['cases']:,}"
    for label, field, ratio in (("MB current", "current_bytes", "ratio_current"),
                                ("MB peak", "peak_bytes", "ratio_peak")):
        rows.append((f"{n} cases: per-case machines vs shared, {label}",
                     _n(p[field] / 1e6, 2), _n(s[field] / 1e6, 3), f"{mem[ratio]:,.0f}x",
                     "tracemalloc"))
    rows.append((f"{n} cases: per-case machines vs shared, µs/case", _n(p["us_per_case"], 1),
                 _n(s["us_per_case"], 1), f"{mem['ratio_time']:,.0f}x",
                 "build + fire vs set proxy + fire"))
    return rows


def sweep_rows(name: str, s: dict[str, Any]) -> list[Row]:
    if "skipped" in s:
        return [(f"{name} sweep", "skipped", "skipped", "-", s["skipped"])]
    small, big = s["points"][0], s["points"][-1]
    sizes = f"{_size(big['size'])} vs {_size(small['size'])} open"
    middle = "; ".join(f"{_size(p['size'])}: {p['tick_ms']:,.0f} ms" for p in s["points"][1:-1])
    verdict = "within" if s["tick_ratio"] <= TARGET else "OVER"
    closed = ("+ as many closed" if s["closed_per_open"] == 1
              else f"+ {s['closed_per_open']:g} closed per open")
    return [
        (f"{name} sweep: tick over {small['due']:,} due, {sizes}, ms", _n(big["tick_ms"]),
         _n(small["tick_ms"]), f"{s['tick_ratio']:.2f}x",
         f"{verdict} {TARGET}x target; {middle + '; ' if middle else ''}{closed}; "
         f"median of {s['rounds']}"),
        (f"{name} sweep: claim of {s['batch']}, {sizes}, ms", _n(big["claim_ms"], 2),
         _n(small["claim_ms"], 2), f"{s['claim_ratio']:.2f}x",
         f"its SELECT alone {big['search_ms']:.2f} vs {small['search_ms']:.2f} ms"),
        (f"{name} sweep, {_size(big['size'])} open: claim vs full scan, ms",
         _n(big["claim_ms"], 2), _n(big["full_scan_ms"], 1),
         f"{big['claim_ms'] / big['full_scan_ms']:.2f}x",
         f"full scan {_times(s['scan_ratio'])} slower ({_scan_node(big['full_scan_plan'])})"),
    ]


def web_rows(w: dict[str, Any]) -> list[Row]:
    base, *pages = w["pages"]
    return [(f"Web, {w['cases']:,} open: {p['name']}, p95 ms", _n(p["p95_ms"], 1),
             _n(base["p95_ms"], 1), f"{p['vs_baseline']:.1f}x",
             f"{'within' if p['p95_ms'] <= w['target_ms'] else 'OVER'} {w['target_ms']:.0f} ms "
             f"target; p50 {p['p50_ms']:.0f}, max {p['max_ms']:.0f} ms; B = /healthz; "
             f"{w['requests']} requests") for p in pages]


def scale_rows(s: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for key, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        part = s[key]
        if "skipped" in part:
            rows.append((f"Scale, {name}", "skipped", "skipped", "-", part["skipped"]))
            continue
        base, *pages = part["pages"]
        for p in pages:
            label = f"Scale, {name}, {part['cases']:,} cases: {p['name']}, p95 ms"
            if "skipped" in p:
                rows.append((label, "skipped", "-", "-", p["skipped"]))
                continue
            verdict = "within" if p["p95_ms"] <= p["target_ms"] else "OVER"
            rows.append((label, _n(p["p95_ms"], 1), _n(base["p95_ms"], 1),
                         f"{p['vs_baseline']:.1f}x",
                         f"{verdict} {p['target_ms']:.0f} ms target; p50 {p['p50_ms']:.0f}, "
                         f"max {p['max_ms']:.0f} ms; B = /healthz; {s['requests']} requests"))
    return rows


def _times(ratio: float) -> str:
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"


def _scan_node(plan: str) -> str:
    """How the full-scan baseline read the tasks, from its plan."""
    for node in ("Seq Scan on task", "SCAN task"):
        if node in plan:
            return node
    return plan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    result = collect(args)
    result["seconds"] = time.perf_counter() - t0
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
