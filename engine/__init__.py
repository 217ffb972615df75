"""Gaita's pure core: declarations, cases, deadlines, calendar and storage.

Nothing here imports ``gaita`` (the composition root) or ``notifications``;
those call in.  See docs/architecture.md.
"""
