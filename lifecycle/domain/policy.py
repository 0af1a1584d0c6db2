"""Safety rules that are pure decisions: which email domains and which groups the app may touch, and which directory
user an address belongs to.

Domains are compared in one normal form: lower-case ASCII (IDNA 2008 with UTS #46 mapping, `xn--` labels), the form
Graph stores in `mail` and `otherMails`. Settings and emails are both brought to it, so `münchen.de`,
`MÜNCHEN.de` and `xn--mnchen-3ya.de` are one domain.

The domain lists judge every address a guest has, not only the one it was invited with: its `mail`, its
`otherMails` and the address its userPrincipalName encodes (`ann_fabrikam.com#EXT#@tenant.onmicrosoft.com` is
`ann@fabrikam.com`), at every door that gives or keeps access (invite, adoption, group grants, extend, re-invite)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
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


_EXTERNAL = "#ext#@"


def external_address(user_principal_name: str) -> str:
    """The address a guest's userPrincipalName encodes, lower case: `ann_fabrikam.com#EXT#@tenant.onmicrosoft.com`
    is `ann@fabrikam.com` (Entra writes the `@` as `_`; the last `_` is it, since a domain holds none). "" when the
    name encodes no address (a member's, or a guest's created in one of the tenant's own domains)."""
    at = user_principal_name.lower().find(_EXTERNAL)
    local, _, domain = user_principal_name[:max(at, 0)].rpartition("_")
    if at <= 0 or not local or "." not in domain:
        return ""
    return f"{local}@{domain}".lower()


def own_addresses(mail: str, other_mails: Iterable[str], user_principal_name: str) -> tuple[str, ...]:
    """A directory user's own addresses, as the domain lists judge them: `mail`, `otherMails` and the address its
    userPrincipalName encodes; lower case, each once, empty ones left out."""
    found = (mail, *other_mails, external_address(user_principal_name))
    return tuple(dict.fromkeys(address.strip().lower() for address in found if address and address.strip()))


def owns_address(email: str, *, mail: str, user_principal_name: str, proxy_addresses: Sequence[str]) -> bool:
    """Whether `email` is the user's own (its `mail`, its userPrincipalName or one of its SMTP proxy addresses),
    not merely listed in its `otherMails`, which any user may fill with anyone's address. Any case."""
    wanted = email.strip().lower()
    return wanted in {mail.lower(), user_principal_name.lower(), *(p.lower() for p in proxy_addresses)}


def lookup_rank(*, is_guest: bool, owns: bool) -> int:
    """Which user an email lookup answers with when several have the address (lowest first): a member who owns it
    (its mail, userPrincipalName or a proxy address: the address is the member's, never a guest's), then a guest,
    then a member who only lists it in `otherMails`."""
    if not is_guest and owns:
        return 0
    return 1 if is_guest else 2


@dataclass(frozen=True)
class AccessPolicy:
    """Domain allow/deny lists (in the ASCII normal form) and the managed-group allowlist."""

    allowed_domains: tuple[str, ...] = ()
    blocked_domains: tuple[str, ...] = ()
    managed_groups: frozenset[str] = frozenset()

    def refusal(self, email: str) -> str:
        """Why the lists refuse the address's domain, "" when they admit it."""
        domain = email_domain(email)
        if _matches(domain, self.blocked_domains):
            return f"the email domain '{domain}' is blocked"
        if self.allowed_domains and not _matches(domain, self.allowed_domains):
            return f"the email domain '{domain}' is not in the allowed list"
        return ""

    def check_email(self, email: str) -> None:
        if reason := self.refusal(email):
            raise Forbidden(reason, code="DomainNotAllowed")

    def check_emails(self, emails: Iterable[str]) -> None:
        """Every address an invitation reaches (the guest and the cc recipients) must pass the domain lists."""
        for email in emails:
            self.check_email(email)

    def address_refusal(self, addresses: Iterable[str]) -> str:
        """Why the lists refuse a user (the first of its own addresses they refuse), "" when every one passes."""
        for address in addresses:
            if reason := self.refusal(address):
                return f"the guest's address '{address}' is refused: {reason}"
        return ""

    def check_user_addresses(self, addresses: Iterable[str]) -> None:
        """Every address of a directory user (`own_addresses`) must pass the domain lists; Forbidden
        (DomainNotAllowed) names the first that does not."""
        if reason := self.address_refusal(addresses):
            raise Forbidden(f"{reason} (ALLOWED_EMAIL_DOMAINS / BLOCKED_EMAIL_DOMAINS judge every address of the "
                            "guest: its mail, its otherMails and its userPrincipalName)", code="DomainNotAllowed")

    def is_managed(self, group_id: str) -> bool:
        return group_id.lower() in self.managed_groups

    def check_groups(self, group_ids: Iterable[str]) -> None:
        unmanaged = sorted({g for g in group_ids if not self.is_managed(g)})
        if unmanaged:
            raise Forbidden("these groups are not managed by this app", code="GroupNotManaged",
                            details=[{"groupId": g} for g in unmanaged])
