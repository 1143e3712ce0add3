"""The CLI contract that users and tests script against (in-process, click's runner)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from bughound.cli import cli
from bughound.storage.store import ALL_SCOPES, Store


def run(database_url: str, data_dir: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(data_dir), "--database-url", database_url, "--url", "http://bh.test:9000", *args],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_setup_is_idempotent_and_prints_dsn_and_token(
    database_url: str, tmp_path: Path, store: Store
) -> None:
    first = run(database_url, tmp_path, "setup", "--org", "acme", "--project", "web", "--json")
    second = run(database_url, tmp_path, "setup", "--org", "acme", "--project", "web", "--json")
    assert set(first) == {"org", "project", "project_id", "dsn", "token"}
    assert first["project_id"] == second["project_id"]
    assert first["dsn"] == second["dsn"]
    assert re.fullmatch(r"http://[0-9a-f]{32}@bh\.test:9000/\d+", str(first["dsn"]))
    assert re.fullmatch(r"sntryu_[0-9a-f]{64}", str(first["token"]))
    auth = store.authenticate_token(str(second["token"]))
    assert auth is not None
    assert auth.email == "admin@localhost"
    assert set(ALL_SCOPES) <= auth.scopes


def test_user_token_and_project_commands(database_url: str, tmp_path: Path, store: Store) -> None:
    run(database_url, tmp_path, "setup", "--org", "acme", "--project", "web", "--json")
    user = run(
        database_url,
        tmp_path,
        "user",
        "create",
        "--email",
        "dev@acme.test",
        "--org",
        "acme",
        "--role",
        "admin",
        "--team",
        "backend",
        "--json",
    )
    assert user["role"] == "admin"
    token = run(
        database_url,
        tmp_path,
        "token",
        "create",
        "--email",
        "dev@acme.test",
        "--scopes",
        "event:read,project:read",
        "--json",
    )["token"]
    auth = store.authenticate_token(str(token))
    assert auth is not None
    assert auth.scopes == {"event:read", "project:read"}
    project = run(database_url, tmp_path, "project", "create", "--org", "acme", "--slug", "api", "--json")
    assert str(project["dsn"]).endswith(f"/{project['id']}")


def test_errors_are_clear(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path), "--database-url", database_url]
    result = runner.invoke(cli, [*base, "token", "create", "--email", "nobody@x.test"])
    assert result.exit_code == 1
    assert "no user" in result.output
    result = runner.invoke(cli, [*base, "project", "create", "--org", "missing", "--slug", "p"])
    assert result.exit_code == 1
    assert "no organization" in result.output


def test_serve_and_worker_refuse_pending_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    for command in (["serve", "--port", "0"], ["worker"]):
        result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "--database-url", url, *command])
        assert result.exit_code == 1
        assert "bughound migrate" in result.output


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = [(prefix, group)]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out += _commands(command, f"{prefix} {name}")
        else:
            out.append((f"{prefix} {name}", command))
    return out


def test_every_option_has_an_environment_variable() -> None:
    for name, command in _commands(cli):
        for param in command.params:
            if param.name == "help" or not param.opts[0].startswith("--"):
                continue
            if getattr(param, "hidden", False):  # internal: what `serve` tells its worker
                continue
            assert getattr(param, "envvar", None), f"{name} {param.opts[0]} has no BUGHOUND_* variable"


def invoke(database_url: str, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run the CLI in-process; a failure must be a clean click error, never a traceback."""
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(data_dir), "--database-url", database_url, "--url", "http://bh.test:9000", *args],
        env=env,
    )
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["project", "create", "--org", "acme", "--slug", "2024"], "--slug"),
        (["project", "create", "--org", "acme", "--slug", "My Proj"], "--slug"),
        (["project", "create", "--org", "acme", "--slug", ""], "--slug"),
        (["project", "create", "--org", "acme", "--slug", "x" * 51], "--slug"),
        (["setup", "--org", "Bad Org", "--project", "web"], "--org"),
        (["setup", "--org", "under_score", "--project", "web"], "--org"),
        (["setup", "--org", "-acme", "--project", "web"], "--org"),
        (["setup", "--org", "acme", "--project", "123"], "--project"),
        (["setup", "--org", "acme", "--project", "web", "--email", "not-an-email"], "--email"),
        (["user", "create", "--org", "acme", "--email", ""], "--email"),
        (["user", "create", "--org", "acme", "--email", "a b@x.test"], "--email"),
        (["user", "create", "--org", "acme", "--email", "dev@acme.test", "--team", "Back End"], "--team"),
    ],
)
def test_bad_slugs_and_emails_are_refused(
    database_url: str, tmp_path: Path, store: Store, args: list[str], option: str
) -> None:
    run(database_url, tmp_path, "setup", "--org", "acme", "--project", "web", "--json")
    result = invoke(database_url, tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.stderr
    assert result.stdout == ""
    with store.read() as conn:  # nothing was created, not even the parts before the bad one
        assert conn.execute(sa.text("SELECT count(*) FROM organizations")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM projects")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM teams")).scalar() == 1


def test_good_slugs_and_emails_are_accepted(database_url: str, tmp_path: Path) -> None:
    run(database_url, tmp_path, "setup", "--json")  # the defaults: default/default, admin@localhost
    run(
        database_url,
        tmp_path,
        "setup",
        "--org",
        "a1-b2",
        "--project",
        "my_proj-2",
        "--email",
        "x@y",
        "--json",
    )
    project = run(database_url, tmp_path, "project", "create", "--org", "a1-b2", "--slug", "p" * 50, "--json")
    assert project["slug"] == "p" * 50


def test_user_create_keeps_a_role_unless_told(database_url: str, tmp_path: Path, store: Store) -> None:
    run(database_url, tmp_path, "setup", "--org", "acme", "--project", "web", "--json")
    owner = ["user", "create", "--email", "admin@localhost", "--org", "acme"]
    assert run(database_url, tmp_path, *owner, "--team", "backend", "--json")["role"] == "owner"
    dev = ["user", "create", "--email", "dev@acme.test", "--org", "acme"]
    assert run(database_url, tmp_path, *dev, "--json")["role"] == "member"  # a new member
    assert run(database_url, tmp_path, *dev, "--role", "admin", "--json")["role"] == "admin"
    assert run(database_url, tmp_path, *dev, "--json")["role"] == "admin"
    with store.read() as conn:
        roles = dict(
            conn.execute(
                sa.text("SELECT u.email, m.role FROM members m JOIN users u ON u.id = m.user_id")
            ).all()
        )
    assert roles == {"admin@localhost": "owner", "dev@acme.test": "admin"}


def test_the_last_owner_is_not_demoted(database_url: str, tmp_path: Path) -> None:
    run(database_url, tmp_path, "setup", "--org", "acme", "--project", "web", "--json")
    owner = ["user", "create", "--email", "admin@localhost", "--org", "acme"]
    result = invoke(database_url, tmp_path, *owner, "--role", "member")
    assert result.exit_code == 1
    assert "last owner" in result.stderr
    dev = ["user", "create", "--email", "dev@acme.test", "--org", "acme"]
    run(database_url, tmp_path, *dev, "--role", "owner", "--json")
    assert run(database_url, tmp_path, *owner, "--role", "manager", "--json")["role"] == "manager"
    assert invoke(database_url, tmp_path, *dev, "--role", "admin").exit_code == 1


def test_json_output_from_the_environment(database_url: str, tmp_path: Path) -> None:
    env = {"BUGHOUND_JSON": "1"}
    commands = [
        ["setup", "--org", "acme", "--project", "web"],
        ["user", "create", "--email", "dev@acme.test", "--org", "acme"],
        ["token", "create", "--email", "dev@acme.test"],
        ["project", "create", "--org", "acme", "--slug", "api"],
    ]
    for args in commands:
        result = invoke(database_url, tmp_path, *args, env=env)
        assert result.exit_code == 0, result.output
        assert isinstance(json.loads(result.stdout), dict)
    result = invoke(database_url, tmp_path, *commands[0], env={"BUGHOUND_JSON": "0"})
    assert result.stdout.startswith("org:")


COMMANDS = [
    ["migrate"],
    ["serve", "--no-worker"],
    ["worker"],
    ["setup"],
    ["user", "create", "--email", "dev@acme.test", "--org", "acme"],
    ["token", "create", "--email", "dev@acme.test"],
    ["project", "create", "--org", "acme", "--slug", "web"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BUGHOUND_PORT": "abc"}, "BUGHOUND_PORT"),
        ({"BUGHOUND_RETENTION_DAYS": "soon"}, "BUGHOUND_RETENTION_DAYS must be an integer"),
        ({"BUGHOUND_DIGEST_IN_SERVER": "maybe"}, "BUGHOUND_DIGEST_IN_SERVER must be true or false"),
        ({"BUGHOUND_DATABASE_URL": "foo://x"}, "Invalid value for '--database-url'"),
        ({"BUGHOUND_DATABASE_URL": "mysql://u@h/db"}, "Invalid value for '--database-url'"),
        ({"BUGHOUND_DATABASE_URL": "not a url"}, "Invalid value for '--database-url'"),
        ({"BUGHOUND_LOG_LEVEL": "loud"}, "Invalid value for '--log-level'"),
    ],
)
def test_bad_settings_are_usage_errors(
    tmp_path: Path, command: list[str], env: dict[str, str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), *command], env=env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "Error: " in result.stderr
    assert message in result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unreachable_database_is_a_runtime_error(tmp_path: Path, command: list[str]) -> None:
    url = "postgresql://nobody:s3cret@127.0.0.1:1/x"
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "--database-url", url, *command])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: cannot use the database postgresql://nobody:***@127.0.0.1:1/x")
    assert "s3cret" not in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unusable_data_directory_is_an_error(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "file"), *command])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--data-dir'" in result.stderr
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "file" / "sub"), *command])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: ")


def test_bad_option_values_are_usage_errors(database_url: str, tmp_path: Path) -> None:
    run(database_url, tmp_path, "setup", "--json")
    result = invoke(
        database_url, tmp_path, "token", "create", "--email", "admin@localhost", "--scopes", "event:red"
    )
    assert result.exit_code == 2
    assert "Invalid value for '--scopes': unknown scopes: event:red" in result.stderr
    result = invoke(database_url, tmp_path, "token", "create", "--email", "admin@localhost", "--scopes", ",")
    assert result.exit_code == 2
    result = invoke(database_url, tmp_path, "serve", "--port", "70000")
    assert result.exit_code == 2
    assert "Invalid value for '--port'" in result.stderr


def test_every_option_and_command_has_help() -> None:
    for name, command in _commands(cli):
        assert command.help, f"{name or 'bughound'} has no help"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden and param.name != "help":
                assert param.help, f"{name} {param.opts[0]} has no help"
