from __future__ import annotations

import pytest
from pydantic import ValidationError

from lifecycle.config import SETTING_DEFAULTS, Settings, Tuning
from lifecycle.errors import ConfigurationError


def test_defaults_match_the_design():
    settings = Settings.from_env({})
    assert settings.graph_base_url == "https://graph.microsoft.com/v1.0"
    assert settings.table_prefix == "lifecycle" and settings.table_name("guests") == "lifecycleguests"
    assert settings.managed_group_ids == () and settings.allowed_email_domains == ()
    assert settings.invite_redirect_url == "https://myapps.microsoft.com"
    assert (settings.guest_default_ttl_days, settings.expiry_grace_days, settings.invite_redeem_days) == (90, 30, 30)
    assert settings.expiry_schedule == "0 0 3 * * *" and settings.expiry_dry_run is False
    assert settings.expiry_max_actions_per_run == 500
    assert (settings.expiry_guard_percent, settings.expiry_guard_min) == (20, 10)
    assert (settings.graph_max_concurrency, settings.expiry_notice_days) == (8, 14)
    assert settings.events_queue == "guest-events"
    assert not settings.graph_is_loopback


def test_every_setting_has_a_field():
    aliases = {field.alias for field in Settings.model_fields.values()}
    assert aliases == set(SETTING_DEFAULTS)


def test_values_are_parsed_and_normalised():
    settings = Settings.from_env({
        "GRAPH_BASE_URL": "http://127.0.0.1:8081/v1.0/", "MANAGED_GROUP_IDS": " 6F1C1EF7-2B1E-4A3C-9D51-00000000000A, ",
        "ALLOWED_EMAIL_DOMAINS": "Fabrikam.com,@partner.org", "EXPIRY_DRY_RUN": "true", "EXPIRY_GRACE_DAYS": "0"})
    assert settings.graph_base_url == "http://127.0.0.1:8081/v1.0" and settings.graph_is_loopback
    assert settings.managed_group_ids == ("6f1c1ef7-2b1e-4a3c-9d51-00000000000a",)
    assert settings.allowed_email_domains == ("fabrikam.com", "partner.org")
    assert settings.expiry_dry_run is True and settings.expiry_grace_days == 0


@pytest.mark.parametrize("name,value", [
    ("MANAGED_GROUP_IDS", "not-a-guid"), ("EXPIRY_GRACE_DAYS", "-1"), ("GRAPH_BASE_URL", "ftp://graph"),
    ("GRAPH_BASE_URL", "http://graph.microsoft.com/v1.0"), ("INVITE_REDIRECT_URL", "http://myapps.example"),
    ("LIFECYCLE_TABLE_PREFIX", "bad-prefix"), ("GRAPH_MAX_CONCURRENCY", "0"), ("EXPIRY_DRY_RUN", "maybe"),
    ("ALLOWED_EMAIL_DOMAINS", "not a domain"), ("LIFECYCLE_EVENTS_QUEUE", "Bad_Queue"),
    ("EXPIRY_GUARD_PERCENT", "0"),
])
def test_invalid_values_fail_fast_naming_the_setting(name, value):
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({name: value})
    assert name in raised.value.message


def test_settings_are_frozen():
    settings = Settings.from_env({})
    with pytest.raises(ValidationError, match="frozen"):
        settings.table_prefix = "other"  # type: ignore[misc]


def test_graph_auth_auto_uses_the_development_token_only_for_a_loopback_graph() -> None:
    loopback = Settings.from_env({"GRAPH_BASE_URL": "http://127.0.0.1:8081/v1.0"})
    cloud = Settings.from_env({})
    assert loopback.graph_uses_development_token and not cloud.graph_uses_development_token


def test_graph_auth_managed_identity_on_a_loopback_graph_asks_for_the_global_scope() -> None:
    settings = Settings.from_env({"GRAPH_BASE_URL": "http://127.0.0.1:8081/v1.0", "GRAPH_AUTH": "managed-identity"})
    assert not settings.graph_uses_development_token
    assert (settings.graph_host, settings.graph_scope) == ("127.0.0.1", "https://graph.microsoft.com/.default")


def test_development_token_is_refused_for_a_graph_that_is_not_loopback() -> None:
    with pytest.raises(ConfigurationError, match="development-token is refused"):
        Settings.from_env({"GRAPH_AUTH": "development-token"})


@pytest.mark.parametrize(("url", "scope"), [
    ("https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default"),
    ("https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default"),
    ("https://dod-graph.microsoft.us/v1.0", "https://dod-graph.microsoft.us/.default"),
    ("https://microsoftgraph.chinacloudapi.cn/v1.0", "https://microsoftgraph.chinacloudapi.cn/.default"),
])
def test_the_token_scope_is_the_national_clouds_own(url: str, scope: str) -> None:
    assert Settings.from_env({"GRAPH_BASE_URL": url}).graph_scope == scope


def test_a_graph_url_that_names_no_graph_host_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="GRAPH_BASE_URL"):
        Settings.from_env({"GRAPH_BASE_URL": "https://graph.example.com/v1.0"})


@pytest.mark.parametrize("name", ["LIFECYCLE_TABLES_ENDPOINT", "LIFECYCLE_QUEUES_ENDPOINT", "GRAPH_BASE_URL"])
def test_a_url_with_a_port_that_is_no_number_is_refused_naming_the_setting(name: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({name: "https://account.table.core.windows.net:port7"})
    assert raised.value.settings == (name,) and "port7" not in raised.value.message


def test_an_invalid_setting_is_named_apart_from_its_message() -> None:
    """The anonymous health report shows the names only: a message may quote the value."""
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({"MANAGED_GROUP_IDS": "not-a-guid", "GRAPH_AUTH": "development-token"})
    assert raised.value.settings == ("MANAGED_GROUP_IDS", "GRAPH_AUTH")
    assert "not-a-guid" in raised.value.message  # the authenticated routes' message says which value


def test_token_requests_are_bounded_by_tuning_not_by_a_setting() -> None:
    tuning = Tuning()
    assert tuning.token_connect_seconds < tuning.token_read_seconds < tuning.token_timeout_seconds <= 20
    assert tuning.health_check_seconds < tuning.token_timeout_seconds
    assert not any("TOKEN" in name for name in SETTING_DEFAULTS)
