"""Alembic migration history (one for SQLite and PostgreSQL)."""

# The newest revision in versions/: kept here so that serve and worker can check for pending
# migrations without importing Alembic. tests/integration/test_migrations.py checks it.
HEAD = "0005"
