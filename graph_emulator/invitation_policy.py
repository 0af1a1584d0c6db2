"""The tenant's external collaboration settings as POST /invitations meets them: domains invitations may not go to.

Entra's "Collaboration restrictions" hold either a deny list or an allow list of domains (switches
`blockedInvitationDomains` and `allowedInvitationDomains`; nothing is refused by default). Graph's pages are silent on
what POST /invitations answers for a refused domain (api-reference/v1.0/api/invitation-post.md lists no error), and no
public report quotes it. The emulator answers the stricter plausible refusal: 403 Authorization_RequestDenied, final
(never a 5xx), for every invitation to such a domain, re-invitations and resetRedemption included."""

from __future__ import annotations

from .config import Switches
from .errors import REQUEST_DENIED, GraphError

BLOCKED_MESSAGE = ("The invitation is blocked by the organization's external collaboration settings: invitations to "
                   "the domain '{domain}' are not allowed.")


def domain_allowed(switches: Switches, domain: str) -> bool:
    """Whether the collaboration restrictions let an invitation go to `domain` (a subdomain counts as its own)."""
    domain = domain.lower()
    if switches.allowed_invitation_domains is not None:
        return domain in switches.allowed_invitation_domains
    return domain not in switches.blocked_invitation_domains


def check_invitation_domain(switches: Switches, email: str) -> None:
    """403 Authorization_RequestDenied when the email's domain is refused."""
    domain = email.rpartition("@")[2].lower()
    if not domain_allowed(switches, domain):
        raise GraphError(403, REQUEST_DENIED, BLOCKED_MESSAGE.format(domain=domain))
