"""The sponsor page as a person uses it, in Chromium: signed out, the page sends the browser to the (emulated)
Microsoft Entra sign-in; a sponsor then sees only their guests, keeps one and removes another after confirming, and
the records, the audit trail and the events say so; an administrator sees every guest and the next sweep's plan.
Screenshots at desktop and phone width land in test-artifacts/browser/."""
from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE
from tests.support import queued_events

pytestmark = pytest.mark.azurite


def sign_in(page: Any, url: str, user: str) -> None:
    """Open the page signed out, and sign in on the form the redirect leads to."""
    page.goto(f"{url}/api/portal")
    page.wait_for_url("**/.auth/login/aad**")
    page.get_by_label("User (userPrincipalName, mail or object id)").fill(user)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/api/portal")
    page.locator("#guests-section").wait_for(state="visible")


def rows(page: Any) -> list[str]:
    return page.locator("#guest-rows tr .guest-mail").all_inner_texts()


def decide(page: Any, decision: str, name: str) -> None:
    page.get_by_role("button", name=f"{decision} {name}", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for(state="visible")
    assert dialog.get_by_role("heading").inner_text() == f"{decision} {name}?"
    dialog.get_by_role("button", name=decision, exact=True).click()
    outcome = f"{name} is kept." if decision == "Keep" else f"{name} is removed"
    page.get_by_role("status").filter(has_text=outcome).wait_for()


def test_a_sponsor_sees_only_their_guests_keeps_one_and_removes_another(stack, browser, screenshots):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, stack.url, "sam@contoso.com")  # its first API call answers 401: that is the sign-in
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"{message.text} {message.location}")
            if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico") else None)
    assert page.get_by_role("heading", level=1).inner_text() == "Guests you sponsor"
    assert sorted(rows(page)) == ["ann@fabrikam.com", "bob@fabrikam.com", "dan@fabrikam.com"]
    assert "Signed in as sam@contoso.com (sponsor)" in page.locator("#who").inner_text()
    assert page.locator("#plan-section").is_hidden()
    page.screenshot(path=str(screenshots / "sponsor-desktop.png"), full_page=True)

    page.get_by_role("button", name="Remove Bob Baker", exact=True).click()  # cancelled: nothing happens
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert page.locator(f"#guest-{stack.guests['bob']} .state").inner_text() == "invited"

    decide(page, "Keep", "Ann Archer")
    decide(page, "Remove", "Bob Baker")
    bob = page.locator(f"#guest-{stack.guests['bob']}")
    assert bob.locator(".state").inner_text() == "disabled" and "No decision needed" in bob.inner_text()
    page.screenshot(path=str(screenshots / "sponsor-desktop-after.png"), full_page=True)
    assert not problems, problems

    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                storage_state=context.storage_state())
    small = phone.new_page()
    small.goto(f"{stack.url}/api/portal")
    small.locator("#guests-section").wait_for(state="visible")
    assert sorted(rows(small)) == ["ann@fabrikam.com", "bob@fabrikam.com", "dan@fabrikam.com"]
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width} px)"
    small.screenshot(path=str(screenshots / "sponsor-phone.png"), full_page=True)
    phone.close()
    context.close()

    async def look(services: Any) -> tuple[Any, ...]:
        ann = await services.records.get(stack.guests["ann"])
        bob = await services.records.get(stack.guests["bob"])
        return (ann, bob, await services.audit.entries_for(stack.guests["ann"]),
                await services.audit.entries_for(stack.guests["bob"]))

    ann, bob, ann_audit, bob_audit = stack.read(look)
    assert ann.state.value == "invited" and (bob.state.value, bob.disabled_reason.value) == ("disabled", "sponsor")
    assert stack.emulator.user(stack.guests["bob"])["accountEnabled"] is False
    sam = f"principal:sam@contoso.com/{stack.people['sam']}"
    assert [(e.action, e.actor, e.details["decision"]) for e in ann_audit if e.action == "guest.attest"] == [
        ("guest.attest", sam, "keep")]
    assert {(e.action, e.actor) for e in bob_audit if e.action in ("guest.attest", "guest.disable")} == {
        ("guest.attest", sam), ("guest.disable", sam)}
    events = queued_events(stack.env["LIFECYCLE_TABLES_CONNECTION_STRING"], stack.env["LIFECYCLE_EVENTS_QUEUE"])
    assert [e["data"]["guestId"] for e in events if e["type"] == "guest.disabled"] == [stack.guests["bob"]]


def test_the_page_works_from_the_keyboard(stack, browser):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, stack.url, "kim@contoso.com")
    assert sorted(rows(page)) == ["cleo@fabrikam.com", "dan@fabrikam.com"]
    keep = page.get_by_role("button", name="Keep Cleo Clark", exact=True)
    keep.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    dialog.wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "confirm-cancel"  # the safe choice has the focus
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Keep Cleo Clark"
    page.keyboard.press("Enter")
    dialog.wait_for(state="visible")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "confirm-ok"
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text="Cleo Clark is kept").wait_for()
    assert page.locator("main").count() == 1 and page.locator("header.banner").count() == 1
    assert page.get_by_role("link", name="Skip to the guests").count() == 1
    context.close()


def test_an_administrator_sees_every_guest_and_the_plan(stack, browser, screenshots):
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport, is_mobile=name == "phone")
        page = context.new_page()
        sign_in(page, stack.url, "ada@contoso.com")
        assert page.get_by_role("heading", level=2, name="All guests").is_visible()
        assert sorted(rows(page)) == ["ann@fabrikam.com", "bob@fabrikam.com", "cleo@fabrikam.com",
                                      "dan@fabrikam.com"]
        page.locator("#plan-summary").filter(has_not_text="Reading").wait_for()
        assert page.locator("#plan-section").is_visible()
        assert "Guests.Admin" in page.locator("#who").inner_text()
        page.screenshot(path=str(screenshots / f"admin-{name}.png"), full_page=True)
        context.close()


def test_a_page_is_refused_nothing_it_does_not_ask_for(stack, browser):
    """The Content-Security-Policy holds: the page runs with no inline script and no violation reported."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    response = page.goto(f"{stack.url}/api/portal")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page.wait_for_url("**/.auth/login/aad**")
    assert not violations, violations
    context.close()
