"""Single sign-on's pure parts: the role map, the groups claim, the user name from claims."""

from __future__ import annotations

import pytest

from relayml.errors import InvalidInput
from relayml.identity.oidc_mapping import groups_of, parse_role_map, user_name


def test_the_role_map_reads_project_roles_and_admin() -> None:
    parsed = parse_role_map({"risk": ["loans:risk_manager"], "ops": ["admin", "web:devops"]})
    assert parsed == {
        "risk": [("loans", "risk_manager")],
        "ops": [(None, "admin"), ("web", "devops")],
    }


@pytest.mark.parametrize("grant", ["loans", "loans:wizard", ":owner", "owner"])
def test_a_bad_grant_names_the_group_and_the_form(grant: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_role_map({"g1": [grant]})
    assert "RELAY_OIDC_ROLE_MAP" in caught.value.message
    assert "'g1'" in caught.value.message
    assert "project:role" in caught.value.message


def test_groups_come_from_a_list_or_a_string() -> None:
    assert groups_of({"groups": ["a", "b"]}, "groups") == ["a", "b"]
    assert groups_of({"roles": "a b,c"}, "roles") == ["a", "b", "c"]
    assert groups_of({}, "groups") == []
    assert groups_of({"groups": 3}, "groups") == []


def test_the_user_name_prefers_preferred_username_then_email_then_sub() -> None:
    assert user_name({"preferred_username": "ann.lee", "email": "x@y", "sub": "1"}) == "ann.lee"
    assert user_name({"email": "ann lee@example.org", "sub": "1"}) == "ann-lee"
    assert user_name({"sub": "auth0|12345"}) == "auth0-12345"
    with pytest.raises(InvalidInput):
        user_name({"sub": "|||"})
