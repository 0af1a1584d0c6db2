"""The allow lists of Entra mode: a listed client application or principal holds the app roles LIFECYCLE_HTTP_ROLES
names (default Guests.Admin); read from the environment at each request, invalid values named as the setting at
fault."""
from __future__ import annotations

import pytest

from lifecycle.config import AppRole, EntraAccess, Settings
from lifecycle.errors import ConfigurationError

CLIENT = "0F2C7F5E-6A3B-4C8D-9E1F-2A3B4C5D6E7F"


def test_by_default_a_listed_caller_is_an_administrator_and_nobody_is_listed():
    access = EntraAccess.from_env({})
    assert access.roles == {AppRole.ADMIN} and not access.clients and not access.principals
    assert access.granted({CLIENT}, CLIENT) == frozenset()


def test_listed_clients_and_principals_get_the_roles_whatever_the_case_of_their_ids():
    access = EntraAccess.from_env({"LIFECYCLE_HTTP_ALLOWED_CLIENTS": f" {CLIENT} ,",
                                   "LIFECYCLE_HTTP_ALLOWED_PRINCIPALS": CLIENT.lower(),
                                   "LIFECYCLE_HTTP_ROLES": "Guests.Manage"})
    assert access.granted({CLIENT.lower()}, "") == {AppRole.MANAGE}
    assert access.granted(set(), CLIENT) == {AppRole.MANAGE}
    assert access.granted({"another"}, "another") == frozenset()


@pytest.mark.parametrize("name", ["LIFECYCLE_HTTP_ALLOWED_CLIENTS", "LIFECYCLE_HTTP_ALLOWED_PRINCIPALS"])
def test_an_allow_list_entry_that_is_no_guid_is_named_as_the_setting_at_fault(name):
    with pytest.raises(ConfigurationError) as raised:
        EntraAccess.from_env({name: "logic-app"})
    assert raised.value.settings == (name,) and "logic-app" not in raised.value.message
    with pytest.raises(ConfigurationError) as invalid:
        Settings.from_env({name: "logic-app"})
    assert name in invalid.value.message


@pytest.mark.parametrize("value", ["Guests.Owner", "guests.admin", "Guests.Admin,Admin"])
def test_lifecycle_http_roles_names_only_the_apis_app_roles_exactly(value):
    with pytest.raises(ConfigurationError) as raised:
        EntraAccess.from_env({"LIFECYCLE_HTTP_ROLES": value})
    assert raised.value.settings == ("LIFECYCLE_HTTP_ROLES",)
    with pytest.raises(ConfigurationError) as invalid:
        Settings.from_env({"LIFECYCLE_HTTP_ROLES": value})
    assert "LIFECYCLE_HTTP_ROLES" in invalid.value.message


def test_the_settings_read_the_same_values():
    settings = Settings.from_env({"LIFECYCLE_HTTP_ROLES": "Guests.Manage, Guests.Admin",
                                  "LIFECYCLE_HTTP_ALLOWED_CLIENTS": CLIENT})
    assert settings.http_roles == ("Guests.Manage", "Guests.Admin")
    assert settings.http_allowed_clients == (CLIENT.lower(),) and settings.http_allowed_principals == ()


def test_each_role_holds_the_ones_below_it():
    assert AppRole.READ.implied == {AppRole.READ}
    assert AppRole.MANAGE.implied == {AppRole.READ, AppRole.MANAGE}
    assert AppRole.ADMIN.implied == set(AppRole)


@pytest.mark.parametrize("days, valid", [("0", True), ("29", False), ("30", True), ("365", True), ("366", False),
                                         ("-1", False)])
def test_attestation_days_is_off_or_from_30_to_365(days, valid):
    if valid:
        assert Settings.from_env({"ATTESTATION_DAYS": days}).attestation_days == int(days)
    else:
        with pytest.raises(ConfigurationError) as raised:
            Settings.from_env({"ATTESTATION_DAYS": days})
        assert raised.value.settings == ("ATTESTATION_DAYS",)
