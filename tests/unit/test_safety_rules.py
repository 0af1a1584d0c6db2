"""Pure safety rules of issue 9: one normal form for domains, storable dates, an exact codec, field and entity
limits, stored replays without credentials, log lines and links a caller cannot forge."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import azure.functions as func
import pytest
from pydantic import ValidationError

from lifecycle.adapters.tables import codec
from lifecycle.config import Settings
from lifecycle.domain.model import Guest
from lifecycle.domain.policy import AccessPolicy, email_forms, normal_domain, normal_email
from lifecycle.errors import Forbidden
from lifecycle.http.auth import actor_of
from lifecycle.http.errors import loggable, request_line
from lifecycle.http.idempotency import without_secrets
from lifecycle.http.responses import base_url
from lifecycle.http.schemas import ExtendRequest, InviteRequest, ListQuery

BASE = {"GRAPH_BASE_URL": "http://127.0.0.1:9", "LIFECYCLE_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"}


def invite(**body) -> InviteRequest:
    return InviteRequest.model_validate_json(json.dumps({"email": "a@fabrikam.com", **body}))


def refused_fields(model, body: dict) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        model.model_validate_json(json.dumps(body))
    return [".".join(str(p) for p in e["loc"]) for e in refused.value.errors()]


# --- domains: one normal form, IDNA both ways ------------------------------------------------------
@pytest.mark.parametrize("form", ["münchen.de", "MÜNCHEN.de", "xn--mnchen-3ya.de", "XN--MNCHEN-3YA.DE", "münchen.de."])
def test_every_form_of_a_domain_has_one_normal_form(form):
    assert normal_domain(form) == "xn--mnchen-3ya.de"


@pytest.mark.parametrize("listed", ["münchen.de", "xn--mnchen-3ya.de"])
@pytest.mark.parametrize("email", ["x@xn--mnchen-3ya.de", "y@MÜNCHEN.de", "z@mail.münchen.de"])
def test_a_blocked_idn_domain_is_blocked_in_every_form(listed, email):
    policy = AccessPolicy(blocked_domains=(normal_domain(listed),))
    with pytest.raises(Forbidden):
        policy.check_email(normal_email(email))


def test_an_allowed_idn_domain_admits_its_unicode_form_and_nothing_like_it():
    policy = AccessPolicy(allowed_domains=(normal_domain("münchen.de"),))
    policy.check_email(normal_email("a@MÜNCHEN.de"))
    with pytest.raises(Forbidden):
        policy.check_email(normal_email("a@munchen.de"))
    with pytest.raises(Forbidden):
        policy.check_email(normal_email("a@evil-münchen.de"))


def test_every_address_of_an_invitation_passes_the_lists():
    policy = AccessPolicy(blocked_domains=("contoso.com",))
    with pytest.raises(Forbidden):
        policy.check_emails(["ok@fabrikam.com", "cc@sub.contoso.com"])


def test_settings_domain_lists_are_brought_to_the_same_form():
    settings = Settings.from_env({**BASE, "BLOCKED_EMAIL_DOMAINS": "MÜNCHEN.de,@Example.COM,пример.рф"})
    assert settings.blocked_email_domains == ("xn--mnchen-3ya.de", "example.com", "xn--e1afmkfd.xn--p1ai")


def test_an_email_is_looked_up_in_its_ascii_and_unicode_forms():
    assert email_forms("m@xn--mnchen-3ya.de") == ("m@xn--mnchen-3ya.de", "m@münchen.de")
    assert email_forms("m@fabrikam.com") == ("m@fabrikam.com",)


def test_emails_in_requests_take_the_normal_form():
    request = invite(email="X@MÜNCHEN.de", ccRecipients=["Y@münchen.DE"])
    assert (request.email, request.ccRecipients) == ("x@xn--mnchen-3ya.de", ["y@xn--mnchen-3ya.de"])


# --- dates the store can hold ----------------------------------------------------------------------
@pytest.mark.parametrize("moment", ["9000-12-31T23:59:59.999999Z", "9001-01-01T00:59:59+01:00"])
def test_the_latest_storable_expiry_is_accepted(moment):
    assert invite(expiresAt=moment).expiresAt.year == 9000


@pytest.mark.parametrize("moment", ["9001-01-01T00:00:00Z", "9000-12-31T23:00:00-01:00", "9999-12-31T23:59:59.999999Z",
                                    "9999-12-31T23:59:59-01:00"])
def test_an_expiry_past_the_storable_range_names_the_field(moment):
    assert refused_fields(InviteRequest, {"email": "a@fabrikam.com", "expiresAt": moment}) == ["expiresAt"]
    assert refused_fields(ExtendRequest, {"expiresAt": moment}) == ["expiresAt"]


@pytest.mark.parametrize(("moment", "ok"), [("2000-01-01T00:00:00Z", True), ("2000-01-01T00:30:00+01:00", False),
                                            ("0001-01-01T00:00:00+01:00", False), ("9000-06-01T00:00:00Z", True)])
def test_the_list_filter_is_bounded_after_utc_conversion(moment, ok):
    if ok:
        assert ListQuery.model_validate({"expiringBefore": moment}).expiringBefore.tzinfo is UTC
    else:
        with pytest.raises(ValidationError) as refused:
            ListQuery.model_validate({"expiringBefore": moment})
        assert refused.value.errors()[0]["loc"] == ("expiringBefore",)


def test_the_codec_round_trips_the_extreme_instant_exactly():
    far = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    entity = codec.guest_to_entity(Guest(id="g", email="a@b.co", expires_at=far, created_at=far, updated_at=far))
    assert entity["ExpiresAt"] == "9999-12-31T23:59:59.999999+00:00"  # format 2: an ISO 8601 string
    assert codec.entity_to_guest(entity).expires_at == far
    entity["ExpiresAt"], entity[codec.FORMAT_COLUMN] = far, 1  # format 1: the SDK's typed date
    assert codec.entity_to_guest(entity).expires_at == far


def test_the_codec_reads_iso_strings_with_microseconds():
    entity = codec.guest_to_entity(Guest(id="g", email="a@b.co"))
    entity["ExpiresAt"] = "2026-01-02T03:04:05.123456+00:00"
    assert codec.entity_to_guest(entity).expires_at == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


# --- limits that keep an entity storable -----------------------------------------------------------
@pytest.mark.parametrize(("field", "fits", "too_much"), [
    ("messageLanguage", "en-" + "abcdefgh-" * 3 + "US", "en-" + "abcdefgh-" * 4 + "US"),
    ("ccRecipients", ["a@fabrikam.com"], ["a@fabrikam.com", "b@fabrikam.com"]),
    ("sponsors", [f"6f1c1ef7-2b1e-4a3c-9d51-00000000000{i}" for i in range(5)],
     [f"6f1c1ef7-2b1e-4a3c-9d51-00000000000{i}" for i in range(6)]),
    ("message", "m" * 2000, "m" * 2001), ("displayName", "d" * 256, "d" * 257),
])
def test_field_limits_stop_at_the_boundary_naming_the_field(field, fits, too_much):
    invite(**{field: fits})
    assert refused_fields(InviteRequest, {"email": "a@fabrikam.com", field: too_much}) == [field]


def test_an_entity_string_over_32k_characters_is_named_before_it_is_sent():
    assert codec.oversized_property({"PartitionKey": "p", "Text": "x" * codec.MAX_STRING_CHARS}) is None
    assert codec.oversized_property({"PartitionKey": "p", "Text": "x" * (codec.MAX_STRING_CHARS + 1)}) == "Text"


def test_an_entity_over_one_mebibyte_is_refused_as_a_whole():
    entity = {f"P{i}": "x" * 30_000 for i in range(20)}
    assert codec.oversized_property(entity) == "entity"


# --- stored replays keep no credential -------------------------------------------------------------
def test_a_stored_response_keeps_no_redemption_link():
    stored = json.loads(without_secrets(json.dumps({"id": "g", "inviteRedeemUrl": "https://redeem/ticket"})))
    assert stored == {"id": "g"}
    assert without_secrets('{"error": {}}') == '{"error": {}}' and without_secrets("not json") == "not json"


# --- logs and links a caller cannot forge ----------------------------------------------------------
def http(url: str, headers: dict[str, str] | None = None) -> func.HttpRequest:
    return func.HttpRequest("GET", url, headers=headers or {}, body=b"")


def test_the_request_line_drops_the_query_and_escapes_control_characters():
    line = request_line(http("http://h/api/guests/x%0D%0A%7B%22level%22%3A%22critical%22%7D?code=SECRET"))
    assert line == 'GET /api/guests/x\\r\\n{"level":"critical"}' and "SECRET" not in line


def test_loggable_text_is_one_bounded_ascii_line():
    text = loggable("a\nb\rc\u2028é" + "x" * 600, 40)
    assert "\n" not in text and "\r" not in text and text.isascii() and len(text) == 43


@pytest.mark.parametrize(("url", "origin"), [
    ("http://localhost:7071/api/guests", "http://localhost:7071"), ("http://127.0.0.1:8/api/x", "http://127.0.0.1:8"),
    ("http://[::1]:8/api/x", "http://[::1]:8"), ("https://evil.example/api/guests", ""),
    ("http://evil.example@127.0.0.1:8/api/x", "http://127.0.0.1:8"), ("http://localhost:bad/api/x", ""),
])
def test_links_come_only_from_a_trusted_host(url, origin, monkeypatch):
    monkeypatch.delenv("WEBSITE_HOSTNAME", raising=False)
    assert base_url(http(url)) == origin


def test_the_apps_own_host_name_gives_an_https_origin(monkeypatch):
    monkeypatch.setenv("WEBSITE_HOSTNAME", "guests.azurewebsites.net")
    assert base_url(http("http://GUESTS.azurewebsites.net/api/x")) == "https://guests.azurewebsites.net"
    assert base_url(http("http://other.azurewebsites.net/api/x")) == ""


def test_a_principal_name_is_audited_escaped(monkeypatch):
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    actor = actor_of(http("http://h/api/x",
                          {"x-ms-client-principal-name": "eve\r\nforged", "x-ms-client-principal-id": "1"}))
    assert actor == "principal:eve\\r\\nforged/1"
