"""Who may call in Entra mode (LIFECYCLE_HTTP_ROLES and the allow lists): closed by default, read from the
environment at each request, invalid ids named as the setting at fault."""
from __future__ import annotations

import pytest

from lifecycle.config import EntraAccess, Settings
from lifecycle.errors import ConfigurationError

CLIENT = "0F2C7F5E-6A3B-4C8D-9E1F-2A3B4C5D6E7F"


def test_by_default_only_the_guests_admin_role_lets_a_caller_in():
    access = EntraAccess.from_env({})
    assert access.roles == {"Guests.Admin"} and not access.clients and not access.principals and access.configured
    assert access.admits({"Guests.Admin"}, set(), "")
    assert not access.admits({"Guests.Read", "guests.admin"}, {CLIENT}, CLIENT)


def test_listed_clients_and_principals_are_let_in_whatever_the_case_of_their_ids():
    access = EntraAccess.from_env({"LIFECYCLE_HTTP_ALLOWED_CLIENTS": f" {CLIENT} ,",
                                   "LIFECYCLE_HTTP_ALLOWED_PRINCIPALS": CLIENT.lower()})
    assert access.admits(set(), {CLIENT.lower()}, "") and access.admits(set(), set(), CLIENT)
    assert not access.admits(set(), {"another"}, "another")


@pytest.mark.parametrize("name", ["LIFECYCLE_HTTP_ALLOWED_CLIENTS", "LIFECYCLE_HTTP_ALLOWED_PRINCIPALS"])
def test_an_allow_list_entry_that_is_no_guid_is_named_as_the_setting_at_fault(name):
    with pytest.raises(ConfigurationError) as raised:
        EntraAccess.from_env({name: "logic-app"})
    assert raised.value.settings == (name,) and "logic-app" not in raised.value.message
    with pytest.raises(ConfigurationError) as invalid:
        Settings.from_env({name: "logic-app"})
    assert name in invalid.value.message


def test_the_settings_read_the_same_values():
    settings = Settings.from_env({"LIFECYCLE_HTTP_ROLES": "Guests.Manage, Guests.Admin",
                                  "LIFECYCLE_HTTP_ALLOWED_CLIENTS": CLIENT})
    assert settings.http_roles == ("Guests.Manage", "Guests.Admin")
    assert settings.http_allowed_clients == (CLIENT.lower(),) and settings.http_allowed_principals == ()
