"""The docs stay true to the code: every setting and CLI command is documented."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from bughound.cli import cli
from bughound.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for field in dataclasses.fields(Settings):
        assert f"BUGHOUND_{field.name.upper()}" in text, field.name


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, command in cli.commands.items():
        subcommands = getattr(command, "commands", None)
        for full in (
            [f"bughound {name} {sub}" for sub in subcommands] if subcommands else [f"bughound {name}"]
        ):
            assert full in readme, full


def test_every_cli_variable_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    commands: list[click.Command] = [cli]
    while commands:
        command = commands.pop()
        commands += getattr(command, "commands", {}).values()
        for param in command.params:
            for envvar in [param.envvar] if isinstance(param.envvar, str) else param.envvar or []:
                assert f"`{envvar}`" in text, f"{command.name} {param.opts[0]}: {envvar}"
