"""A directory user as the pure reconciliation reads it (`domain.drift.DirectoryView`)."""
from __future__ import annotations

from lifecycle.domain.drift import DirectoryView
from lifecycle.domain.model import InvitationState
from lifecycle.ports import DirectoryUser


def directory_view(user: DirectoryUser | None) -> DirectoryView:
    """None (not in the directory: deleted or gone) is absent; else present, enabled or not, redeemed or not."""
    if user is None:
        return DirectoryView(present=False)
    return DirectoryView(present=True, account_enabled=user.account_enabled,
                         redeemed=user.external_user_state == InvitationState.ACCEPTED.value)
