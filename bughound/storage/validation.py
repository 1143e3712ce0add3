"""What the store accepts as the slug of a new organization, team or project, or a new user's email.

Slugs follow Sentry's rules (`src/sentry/slug/patterns.py`): the web API reads an all-digit value
in a path as an id, so a slug is never only digits. Projects and teams: lowercase letters, digits,
`_` and `-`. Organizations: lowercase letters, digits and `-`, starting and ending with a letter or
digit (Sentry's organization pattern, which also admits capitals; ours are looked up as written,
so lowercase only). At most 50 characters, the width of our slug columns and Sentry's default
(Sentry has allowed project slugs of up to 100 since 2024).
"""

from __future__ import annotations

import re

SLUG_MAX_LENGTH = 50
EMAIL_MAX_LENGTH = 254  # the users.email column; RFC 5321's limit on a path

_SLUG = re.compile(r"(?![0-9]+\Z)[a-z0-9_-]+")
_ORG_SLUG = re.compile(r"(?![0-9]+\Z)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")

_SLUG_RULE = "lowercase letters, digits, '_' and '-', not only digits"
_ORG_SLUG_RULE = "lowercase letters, digits and '-' (not first or last), not only digits"


class InvalidValue(ValueError):
    """`field` is what was refused: "organization", "team", "project" (slugs) or "email"."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_slug(kind: str, value: str) -> None:
    """Raise InvalidValue unless `value` may be the slug of a new `kind` (organization, team, project)."""
    pattern, rule = (_ORG_SLUG, _ORG_SLUG_RULE) if kind == "organization" else (_SLUG, _SLUG_RULE)
    if not pattern.fullmatch(value) or len(value) > SLUG_MAX_LENGTH:
        raise InvalidValue(
            kind, f"{value!r} is not a valid {kind} slug: use {rule}, at most {SLUG_MAX_LENGTH} characters"
        )


def check_email(value: str) -> None:
    """Raise InvalidValue unless `value` looks like an email address (something@something)."""
    if not _EMAIL.fullmatch(value) or len(value) > EMAIL_MAX_LENGTH:
        raise InvalidValue("email", f"{value!r} is not an email address (NAME@DOMAIN)")
