"""Slugs and emails of new organizations, teams, projects and users (Sentry's slug rules)."""

from __future__ import annotations

import pytest

from bughound.storage.validation import InvalidValue, check_email, check_slug


@pytest.mark.parametrize(
    "slug", ["default", "web", "my_proj", "my-proj", "a", "2024-app", "_x", "-x-", "p" * 50]
)
def test_project_and_team_slugs(slug: str) -> None:
    check_slug("project", slug)
    check_slug("team", slug)


@pytest.mark.parametrize("slug", ["", "2024", "0", "My-Proj", "my proj", "my.proj", "p" * 51, "web\n", "wéb"])
def test_bad_project_and_team_slugs(slug: str) -> None:
    for kind in ("project", "team"):
        with pytest.raises(InvalidValue) as exc:
            check_slug(kind, slug)
        assert exc.value.field == kind


@pytest.mark.parametrize("slug", ["default", "acme", "a", "a1-b2", "1a", "o" * 50])
def test_organization_slugs(slug: str) -> None:
    check_slug("organization", slug)


@pytest.mark.parametrize(
    "slug", ["", "123", "my_org", "-acme", "acme-", "Acme", "bad org", "o" * 51, "acme\n"]
)
def test_bad_organization_slugs(slug: str) -> None:
    with pytest.raises(InvalidValue, match="not a valid organization slug"):
        check_slug("organization", slug)


@pytest.mark.parametrize("email", ["admin@localhost", "dev@acme.test", "a+b@x.y.z"])
def test_emails(email: str) -> None:
    check_email(email)


@pytest.mark.parametrize(
    "email", ["", "not-an-email", "@x", "x@", "a b@x", "a@b@c", "a@b\n", "a@" + "b" * 253]
)
def test_bad_emails(email: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        check_email(email)
    assert exc.value.field == "email"
