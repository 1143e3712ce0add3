"""Alembic environment: runs on the engine handed over by bughound.storage.db.migrate()."""

from alembic import context

from bughound.storage.db import WRITE_OPTION
from bughound.storage.schema import metadata

engine = context.config.attributes["engine"]

with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch migrations rebuild tables (copy, drop, rename): with foreign keys enforced, the
        # drop would cascade into every table that points at the old one. SQLite only honours
        # this pragma outside a transaction, so it goes straight to the driver connection.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    try:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
