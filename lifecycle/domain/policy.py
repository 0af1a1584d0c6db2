"""Safety rules that are pure decisions: which email domains and which groups the app may touch.

Domains are compared in one normal form: lower-case ASCII (IDNA 2008 with UTS #46 mapping, `xn--` labels), the form
Graph stores in `mail` and `otherMails`. Settings and emails are both brought to it, so `münchen.de`,
`MÜNCHEN.de` and `xn--mnchen-3ya.de` are one domain."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import idna

from lifecycle.errors import Forbidden


def normal_domain(domain: str) -> str:
    """The ASCII form of a domain; raises ValueError when it is not a valid internationalised domain name."""
    text = domain.strip().rstrip(".")
    try:
        return idna.encode(text, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise ValueError(f"'{domain}' is not a valid domain name: {exc}") from None


def unicode_domain(domain: str) -> str:
    """The Unicode form of an ASCII domain (for display and for finding a user recorded with it)."""
    try:
        return idna.decode(domain)
    except idna.IDNAError:
        return domain


def normal_email(email: str) -> str:
    """`local@domain` with the domain in its ASCII normal form and the whole address lower-cased."""
    local, _, domain = email.strip().rpartition("@")
    return f"{local.lower()}@{normal_domain(domain)}"


def email_forms(email: str) -> tuple[str, ...]:
    """The address as Graph may hold it: with the ASCII domain, and (when different) with the Unicode domain."""
    local, _, domain = email.rpartition("@")
    forms = (email, f"{local}@{unicode_domain(domain)}")
    return tuple(dict.fromkeys(forms))


def email_domain(email: str) -> str:
    domain = email.rsplit("@", 1)[-1]
    try:
        return normal_domain(domain)
    except ValueError:
        return domain.lower()


def _matches(domain: str, listed: Iterable[str]) -> bool:
    return any(domain == item or domain.endswith("." + item) for item in listed)


@dataclass(frozen=True)
class AccessPolicy:
    """Domain allow/deny lists (in the ASCII normal form) and the managed-group allowlist."""

    allowed_domains: tuple[str, ...] = ()
    blocked_domains: tuple[str, ...] = ()
    managed_groups: frozenset[str] = frozenset()

    def check_email(self, email: str) -> None:
        domain = email_domain(email)
        if _matches(domain, self.blocked_domains):
            raise Forbidden(f"the email domain '{domain}' is blocked", code="DomainNotAllowed")
        if self.allowed_domains and not _matches(domain, self.allowed_domains):
            raise Forbidden(f"the email domain '{domain}' is not in the allowed list", code="DomainNotAllowed")

    def check_emails(self, emails: Iterable[str]) -> None:
        """Every address an invitation reaches (the guest and the cc recipients) must pass the domain lists."""
        for email in emails:
            self.check_email(email)

    def is_managed(self, group_id: str) -> bool:
        return group_id.lower() in self.managed_groups

    def check_groups(self, group_ids: Iterable[str]) -> None:
        unmanaged = sorted({g for g in group_ids if not self.is_managed(g)})
        if unmanaged:
            raise Forbidden("these groups are not managed by this app", code="GroupNotManaged",
                            details=[{"groupId": g} for g in unmanaged])
