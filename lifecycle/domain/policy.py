"""Safety rules that are pure decisions: which email domains and which groups the app may touch."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lifecycle.errors import Forbidden


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


def _matches(domain: str, listed: Iterable[str]) -> bool:
    return any(domain == item or domain.endswith("." + item) for item in listed)


@dataclass(frozen=True)
class AccessPolicy:
    """Domain allow/deny lists and the managed-group allowlist."""

    allowed_domains: tuple[str, ...] = ()
    blocked_domains: tuple[str, ...] = ()
    managed_groups: frozenset[str] = frozenset()

    def check_email(self, email: str) -> None:
        domain = email_domain(email)
        if _matches(domain, self.blocked_domains):
            raise Forbidden(f"the email domain '{domain}' is blocked", code="DomainNotAllowed")
        if self.allowed_domains and not _matches(domain, self.allowed_domains):
            raise Forbidden(f"the email domain '{domain}' is not in the allowed list", code="DomainNotAllowed")

    def check_groups(self, group_ids: Iterable[str]) -> None:
        unmanaged = sorted({g for g in group_ids if g.lower() not in self.managed_groups})
        if unmanaged:
            raise Forbidden("these groups are not managed by this app", code="GroupNotManaged",
                            details=[{"groupId": g} for g in unmanaged])
