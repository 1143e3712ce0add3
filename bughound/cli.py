"""The `bughound` command: thin wrappers that parse options and call into the stages.

Every option can also be set with a `BUGHOUND_*` environment variable (shown in --help).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import orjson
import sqlalchemy as sa

from bughound.config import Settings
from bughound.grouping.settings import DEFAULT_CONFIG_ID
from bughound.storage.db import (
    MigrationsPending,
    check_database_url,
    check_migrated,
    create_engine,
    migrate,
    redacted,
)
from bughound.storage.store import ALL_SCOPES, ROLES, LastOwner, NotFound, Store
from bughound.storage.validation import InvalidValue

log = logging.getLogger("bughound")


class SettingsError(click.ClickException):
    """A bad `BUGHOUND_*` setting that no option parses (e.g. BUGHOUND_PORT for `setup`): exit code 2,
    like click's own usage errors."""

    exit_code = 2


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    obj = ctx.find_root().obj or {}
    try:
        settings = Settings.from_env(**{**obj, **overrides})
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    ctx.meta["bughound.database_url"] = settings.database_url  # for _BughoundGroup's message
    return settings


def _store(settings: Settings) -> Store:
    try:
        return Store(create_engine(settings.database_url))
    except OSError as exc:  # the SQLite file's directory could not be made
        raise click.ClickException(f"cannot use the data directory: {exc}") from None


def _check_database_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value:
        try:
            check_database_url(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return value


class _BughoundGroup(click.Group):
    """A database that cannot be reached or used (sqlalchemy's OperationalError: refused, no such
    database, bad password, unwritable SQLite file, ...) ends any command with a one-line error and
    exit code 1; --log-level debug also logs the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except sa.exc.OperationalError as exc:
            log.debug("database error", exc_info=True)
            url = ctx.meta.get("bughound.database_url")
            where = f"the database {redacted(url)}" if url else "the database"
            reason = " ".join(str(exc.orig).split()) if exc.orig is not None else str(exc)
            raise click.ClickException(f"cannot use {where}: {reason}") from None


def _migrated_store(settings: Settings) -> Store:
    store = _store(settings)
    try:
        check_migrated(store.engine)
    except MigrationsPending as exc:
        raise click.ClickException(str(exc)) from None
    return store


@contextmanager
def _options_checked(**options: str) -> Iterator[None]:
    """A new organization, team, project or user that the store refuses (InvalidValue: a bad slug
    or email) is a usage error on the option it came from; `options` maps the refused field
    (organization, team, project, email) to that option's name."""
    try:
        yield
    except InvalidValue as exc:
        option = options.get(exc.field)
        if option is None:
            raise click.ClickException(exc.message) from None
        raise click.BadParameter(
            exc.message, ctx=click.get_current_context(), param_hint=f"'{option}'"
        ) from None


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data))
    else:
        width = max(len(k) for k in data) + 1
        for key, value in data.items():
            click.echo(f"{key + ':':<{width}} {value}")


_json_option = click.option(
    "--json",
    "as_json",
    envvar="BUGHOUND_JSON",
    show_envvar=True,
    is_flag=True,
    help="Print one JSON object instead of aligned lines.",
)


@click.group(cls=_BughoundGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    envvar="BUGHOUND_DATA_DIR",
    show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the SQLite database and spool (default ./data).",
)
@click.option(
    "--database-url",
    envvar="BUGHOUND_DATABASE_URL",
    show_envvar=True,
    callback=_check_database_url,
    help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: SQLite in the data directory).",
)
@click.option(
    "--url",
    envvar="BUGHOUND_URL",
    show_envvar=True,
    help="Public base URL, used in DSNs and Link headers (default http://HOST:PORT).",
)
@click.option(
    "--log-level",
    envvar="BUGHOUND_LOG_LEVEL",
    show_envvar=True,
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="How much to log (debug also logs the tracebacks behind error messages).",
)
@click.pass_context
def cli(
    ctx: click.Context, data_dir: Path | None, database_url: str | None, url: str | None, log_level: str
) -> None:
    """Bughound: a light, self-hosted error tracker that speaks Sentry's protocols.

    Every option can also be set with the BUGHOUND_* environment variable shown beside it;
    `bughound COMMAND --help` shows a command's options.
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.obj = {"data_dir": data_dir, "database_url": database_url, "url": url}


@cli.command("migrate")
@click.pass_context
def migrate_cmd(ctx: click.Context) -> None:
    """Apply pending database migrations."""
    settings = _settings(ctx)
    migrate(_store(settings).engine)
    click.echo(f"database is up to date ({redacted(settings.database_url)})")


@cli.command(short_help="Serve ingestion and the web API, and digest.")
@click.option(
    "--host",
    envvar="BUGHOUND_HOST",
    show_envvar=True,
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface).",
)
@click.option(
    "--port",
    envvar="BUGHOUND_PORT",
    show_envvar=True,
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--no-worker",
    envvar="BUGHOUND_NO_WORKER",
    show_envvar=True,
    is_flag=True,
    help="Serve only; digest with separate `bughound worker` processes.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, no_worker: bool) -> None:
    """Serve ingestion and the web API (and run the digest worker alongside)."""
    import uvicorn

    from bughound.app import create_app

    settings = _settings(ctx, host=host, port=port)
    _migrated_store(settings).engine.dispose()
    app = create_app(settings)
    supervisor = None if no_worker else WorkerSupervisor(settings, lend_when=app.activity.idle)
    if supervisor:
        supervisor.start()
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            loop="uvloop" if sys.platform != "win32" else "asyncio",
            http="httptools",
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_keep_alive=30,
        )
    finally:
        if supervisor:
            supervisor.stop()


@cli.command(short_help="Run only the digest worker.")
@click.option("--parent-pid", type=int, hidden=True, help="Exit when this process is gone (used by serve).")
@click.option("--lender-fd", type=int, hidden=True, help="A socket to serve's spare CPU (used by serve).")
@click.pass_context
def worker(ctx: click.Context, parent_pid: int | None, lender_fd: int | None) -> None:
    """Run the digest worker only (scale-out: several share one PostgreSQL)."""
    from bughound.digest.worker import Worker
    from bughound.spool import open_spool

    settings = _settings(ctx)
    store = _migrated_store(settings)
    if parent_pid is not None:
        _die_with_parent()
    w = Worker(settings, store, open_spool(settings, store.engine), lender_fd=lender_fd)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: w.stop.set())
    w.run_forever(parent_pid=parent_pid)


def _die_with_parent() -> None:
    """Linux: have the kernel send SIGKILL to this process when its parent dies."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # the worker also polls its parent pid


class WorkerSupervisor:
    """`serve` runs the digest in a child process (no GIL shared with HTTP) and restarts it if it dies.

    `lend_when`: while it returns true (no request is being handled), this process digests
    chunks of the worker's batches on a thread (`bughound.digest.pool.lend`); None: never.
    """

    def __init__(self, settings: Settings, lend_when: Callable[[], bool] | None = None) -> None:
        self.settings = settings
        self.lend_when = lend_when if settings.digest_in_server else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="worker-supervisor", daemon=True)

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env.update(
            BUGHOUND_DATA_DIR=str(self.settings.data_dir),
            BUGHOUND_DATABASE_URL=self.settings.database_url,
            BUGHOUND_URL=self.settings.url,
        )
        cmd = [sys.executable, "-m", "bughound", "worker", "--parent-pid", str(os.getpid())]
        if self.lend_when is None:
            return subprocess.Popen(cmd, env=env)
        from bughound.digest.pool import lend

        ours, theirs = socket.socketpair()
        try:
            cmd += ["--lender-fd", str(theirs.fileno())]
            proc = subprocess.Popen(cmd, env=env, pass_fds=(theirs.fileno(),))
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        # The thread ends (and closes `ours`) when the worker closes its end or dies.
        threading.Thread(target=lend, args=(ours, self.lend_when), name="digest-lender", daemon=True).start()
        return proc

    def start(self) -> None:
        self.proc = self._spawn()
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            assert self.proc is not None
            code = self.proc.wait()
            if self.stopping.is_set() or code == 0:
                return  # stopped on purpose (serve is shutting down, or a signal asked it to)
            log.error("digest worker exited with %s; restarting it", code)
            time.sleep(1.0)
            self.proc = self._spawn()

    def stop(self) -> None:
        self.stopping.set()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@cli.command(short_help="Create what is missing; print a DSN and a token.")
@click.option(
    "--org",
    "org_slug",
    envvar="BUGHOUND_ORG",
    show_envvar=True,
    default="default",
    show_default=True,
    help="Organization slug (created if missing).",
)
@click.option(
    "--project",
    "project_slug",
    envvar="BUGHOUND_PROJECT",
    show_envvar=True,
    default="default",
    show_default=True,
    help="Project slug (created if missing, with a DSN key).",
)
@click.option(
    "--email",
    envvar="BUGHOUND_EMAIL",
    show_envvar=True,
    default="admin@localhost",
    show_default=True,
    help="The owner's email (user created if missing, made an owner).",
)
@_json_option
@click.pass_context
def setup(ctx: click.Context, org_slug: str, project_slug: str, email: str, as_json: bool) -> None:
    """Create what is missing (organization, project and key, owner) and print a DSN and a new token."""
    settings = _settings(ctx)
    store = _migrated_store(settings)
    with (
        _options_checked(organization="--org", team="--org", project="--project", email="--email"),
        store.write() as conn,
    ):
        org_id = store.ensure_organization(conn, org_slug)
        user_id = store.ensure_user(conn, email)
        member_id = store.ensure_member(conn, org_id, user_id, "owner")
        team_id = store.ensure_team(conn, org_id, org_slug)
        store.ensure_team_member(conn, team_id, member_id)
        project_id = store.ensure_project(conn, org_id, project_slug, team_id)
        token = store.create_token(conn, user_id, list(ALL_SCOPES), name="bughound setup")
    data = {
        "org": org_slug,
        "project": project_slug,
        "project_id": project_id,
        "dsn": store.project_dsn(settings.url, project_id),
        "token": token,
    }
    _print(data, as_json)


@cli.group()
def user() -> None:
    """Manage users."""


@user.command("create")
@click.option("--email", envvar="BUGHOUND_EMAIL", show_envvar=True, required=True, help="The user's email.")
@click.option(
    "--org",
    "org_slug",
    envvar="BUGHOUND_ORG",
    show_envvar=True,
    required=True,
    help="Slug of an existing organization.",
)
@click.option(
    "--role",
    envvar="BUGHOUND_ROLE",
    show_envvar=True,
    type=click.Choice(ROLES),
    help="Role in the organization (default: member for a new member; an existing one keeps theirs).",
)
@click.option(
    "--team",
    "team_slug",
    envvar="BUGHOUND_TEAM",
    show_envvar=True,
    help="Also add the user to this team (created if missing).",
)
@_json_option
@click.pass_context
def user_create(
    ctx: click.Context, email: str, org_slug: str, role: str | None, team_slug: str | None, as_json: bool
) -> None:
    """Create a user (if missing) and make them a member of an organization.

    An existing member keeps their role unless --role is given; the organization's last owner
    cannot be demoted.
    """
    store = _migrated_store(_settings(ctx))
    with _options_checked(email="--email", team="--team"), store.write() as conn:
        try:
            org_id = store.organization_id_by_slug(conn, org_slug)
        except NotFound as exc:
            raise click.ClickException(str(exc)) from None
        user_id = store.ensure_user(conn, email)
        try:
            member_id = store.ensure_member(conn, org_id, user_id, role)
        except LastOwner as exc:
            raise click.ClickException(str(exc)) from None
        role = store.role_of_member(conn, member_id)
        if team_slug:
            store.ensure_team_member(conn, store.ensure_team(conn, org_id, team_slug), member_id)
    _print({"id": str(user_id), "email": email, "org": org_slug, "role": role, "team": team_slug}, as_json)


@cli.group()
def token() -> None:
    """Manage auth tokens."""


@token.command("create")
@click.option(
    "--email",
    envvar="BUGHOUND_EMAIL",
    show_envvar=True,
    required=True,
    help="Email of an existing user, the token's owner.",
)
@click.option(
    "--scopes",
    envvar="BUGHOUND_SCOPES",
    show_envvar=True,
    help="Comma-separated scopes (default: every scope).",
)
@_json_option
@click.pass_context
def token_create(ctx: click.Context, email: str, scopes: str | None, as_json: bool) -> None:
    """Create a user auth token (sntryu_...)."""
    wanted = [s.strip() for s in scopes.split(",") if s.strip()] if scopes else list(ALL_SCOPES)
    unknown = sorted(set(wanted) - set(ALL_SCOPES))
    if unknown or not wanted:
        problem = f"unknown scopes: {', '.join(unknown)}" if unknown else "no scopes"
        raise click.BadParameter(f"{problem}; known: {', '.join(ALL_SCOPES)}", param_hint="'--scopes'")
    store = _migrated_store(_settings(ctx))
    with store.write() as conn:
        try:
            user_id = store.user_id_by_email(conn, email)
            value = store.create_token(conn, user_id, wanted)
        except NotFound as exc:
            raise click.ClickException(str(exc)) from None
    _print({"token": value}, as_json)


@cli.group()
def project() -> None:
    """Manage projects."""


@project.command("create")
@click.option(
    "--org",
    "org_slug",
    envvar="BUGHOUND_ORG",
    show_envvar=True,
    required=True,
    help="Slug of an existing organization.",
)
@click.option(
    "--slug", envvar="BUGHOUND_PROJECT", show_envvar=True, required=True, help="The project's slug."
)
@_json_option
@click.pass_context
def project_create(ctx: click.Context, org_slug: str, slug: str, as_json: bool) -> None:
    """Create a project (if missing) with a DSN key, and print its id and DSN."""
    settings = _settings(ctx)
    store = _migrated_store(settings)
    with _options_checked(project="--slug", team="--org"), store.write() as conn:
        try:
            org_id = store.organization_id_by_slug(conn, org_slug)
        except NotFound as exc:
            raise click.ClickException(str(exc)) from None
        project_id = store.ensure_project(conn, org_id, slug, store.ensure_team(conn, org_id, org_slug))
    _print(
        {"id": project_id, "org": org_slug, "slug": slug, "dsn": store.project_dsn(settings.url, project_id)},
        as_json,
    )


@cli.command("grouping-info", short_help="Print how an event would be grouped.")
@click.option(
    "--config",
    "config_id",
    envvar="BUGHOUND_GROUPING_CONFIG",
    show_envvar=True,
    default=DEFAULT_CONFIG_ID,
    show_default=True,
    help="Grouping config id.",
)
@click.option(
    "--enhancements",
    envvar="BUGHOUND_GROUPING_ENHANCEMENTS",
    show_envvar=True,
    type=click.File("r"),
    help="A file of project stack trace rules (Sentry's syntax).",
)
@click.option(
    "--fingerprinting",
    envvar="BUGHOUND_FINGERPRINTING_RULES",
    show_envvar=True,
    type=click.File("r"),
    help="A file of project fingerprint rules (Sentry's syntax).",
)
@click.argument("event_file", metavar="FILE", type=click.File("rb"))
def grouping_info_cmd(config_id: str, enhancements: Any, fingerprinting: Any, event_file: Any) -> None:
    """Print how an event would be grouped (Sentry's grouping-info JSON).

    FILE is an event's JSON as an SDK sends it (`-` for standard input). It is normalized as the
    digest would, then grouped with the same code; nothing is stored or sent anywhere.
    """
    from bughound.digest.normalize import Context, normalize_event
    from bughound.grouping import grouping_info, known_config_ids, validate_rules
    from bughound.grouping.settings import ProjectGrouping

    try:
        event = orjson.loads(event_file.read())
    except orjson.JSONDecodeError as exc:
        raise click.ClickException(f"{event_file.name}: not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise click.ClickException(f"{event_file.name}: an event is a JSON object")
    if config_id not in known_config_ids():
        raise click.BadParameter(
            f"unknown config; known: {', '.join(known_config_ids())}", param_hint="--config"
        )
    settings = ProjectGrouping(
        config_id=config_id,
        enhancements=enhancements.read() if enhancements else "",
        fingerprinting=fingerprinting.read() if fingerprinting else "",
    )
    problem = validate_rules(enhancements=settings.enhancements, fingerprinting=settings.fingerprinting)
    if problem:
        raise click.ClickException(problem)
    normalized = normalize_event(event, Context(received=time.time(), project_id=0, key_id=0))
    info = grouping_info(normalized, settings, config_id)
    click.echo(orjson.dumps(info, option=orjson.OPT_INDENT_2).decode())


def main() -> None:
    cli(prog_name="bughound")


__all__ = ["cli", "main"]
