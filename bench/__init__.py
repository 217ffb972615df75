"""Benchmarks for Gaita's hot paths (``python -m bench`` / ``make bench``).

``bench.transitions``: durable transitions through ``engine.cases.fire``
against raw SQLAlchemy Core writes (``bench.baseline``), on SQLite (WAL) and
PostgreSQL.
``bench.memory``: one shared ``transitions`` machine against one machine per case.
Every ratio compares figures measured in the same run.
"""
