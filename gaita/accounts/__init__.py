"""Users' credentials and sessions, one module per concept.

- ``account``: a user as the web app and the API see one; how a client's secret is stored
- ``passwords``: Argon2 hashes (``pwdlib``), checked in the same time for unknown users
- ``second_factor``: TOTP secrets and codes, the roles that must use one
- ``sessions``: logged-in browsers
- ``tokens``: API bearer tokens
- ``login_limits``: failed logins, counted for rate limiting
- ``runtime_settings``: settings administrators change at run time
- ``admin_log``: one row per administrative change
- ``tables``: the tables of all these (the engine's ``user`` table stays in ``engine.tables``)

A session or API token is a random secret given to the client once; only its SHA-256
is stored, so a copy of the database logs nobody in.  Every time comes from the
runtime clock.  The writes an administrator makes (``store_password``,
``insert_api_token``, ``revoke_api_token``, ``put_setting``) take the caller's
connection, so that ``gaita.users`` writes the admin-log row (``audit``) in the same
transaction.
"""
