"""Notifications: templates, outbox delivery, action links (see issue #3).

This package may import ``engine`` types; ``engine`` never imports it.
"""
