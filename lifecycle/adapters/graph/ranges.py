"""How the directory pass splits the guests into ranges read at the same time (docs/directory-pass.md).

A range is the guests whose userPrincipalName starts with one character: `userType eq 'Guest' and
startswith(userPrincipalName,'x')`. Both clauses work without advanced query parameters (the filter table of
aad-advanced-queries.md: `eq` on userType and `startsWith` on userPrincipalName "Default"; filter-query-parameter.md
shows `startswith(userPrincipalName, 'admin')` unmarked), so the pass with signInActivity needs neither
`ConsistencyLevel: eventual` nor `$count`. Graph compares the prefix ignoring case, so one range per letter.

The characters cover every first character a userPrincipalName can have: user.md allows only `A-Z a-z 0-9 ' . - _ !
# ^ ~`; the rest of what an email address's local part may hold (RFC 5322 atext, and a quoted local part's `"`) is
read too, in case Graph keeps one in a guest's name: an empty range costs one request of 1 resource unit.
A userPrincipalName starts with exactly one of these characters, so the ranges never overlap; together they hold
every guest."""
from __future__ import annotations

import string

from lifecycle.domain.odata import odata_string

GUEST_FILTER = "userType eq 'Guest'"
DOCUMENTED_FIRST = "'.-_!#^~"  # user.md, userPrincipalName: the characters allowed besides letters and digits
OTHER_ATEXT = "$%&*+/=?`{|}\""  # what else an email's local part may begin with (RFC 5322)
FIRST_CHARACTERS: tuple[str, ...] = (*string.ascii_lowercase, *string.digits, *DOCUMENTED_FIRST, *OTHER_ATEXT)
# A directory read whole in this many pages or fewer is one range, read as it always was (under 16,000 guests, or
# 8,000 with signInActivity, or 1,600 with sponsors): the 57 ranges would cost more requests than they save time
# (about 57 requests of 1 resource unit, one per range, however few guests it holds). Past it, the rest is read in the
# ranges at the same time, the guests the chain handed on left out.
SINGLE_RANGE_PAGES = 16


def range_filter(first: str) -> str:
    """The `$filter` of the range of guests whose userPrincipalName starts with `first` (any case)."""
    return f"{GUEST_FILTER} and startswith(userPrincipalName,{odata_string(first)})"


def range_of(user_principal_name: str) -> str | None:
    """The range a userPrincipalName falls in (its first character, case-folded), None for none."""
    first = user_principal_name[:1].casefold()
    return first if first in FIRST_CHARACTERS else None
