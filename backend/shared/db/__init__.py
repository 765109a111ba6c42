"""The backend's database layer.

- ``models``: SQLAlchemy 2.0 declarative models, the declared schema (matches the head of ``db/migrations``).
- ``settings``: the database URL from the environment (``MIGTUI_DSN`` / ``DATABASE_URL``).
- ``migrate``: the deploy-time entry, ``python -m backend.shared.db.migrate``, which applies migrations
  through the migtui runner under its advisory lock.
"""
