"""Alembic environment: runs on the engine handed over by bughound.storage.db.migrate()."""

from alembic import context

from bughound.storage.db import WRITE_OPTION
from bughound.storage.schema import metadata

engine = context.config.attributes["engine"]

with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
