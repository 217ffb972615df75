"""Alembic migrations of Gaita's database schema (run by ``gaita init``)."""
