"""Ids of sweep runs and of plans (pure): the time they were made, then a random part, so they sort by time and a
store finds a run's place from its id alone."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

_FORMAT = "%Y%m%dT%H%M%S%fZ"
_ID = re.compile(r"^(\d{8}T\d{12}Z)-([0-9a-f]{8})$")


def new_id(now: datetime) -> str:
    """`<UTC time to the microsecond>-<8 hex digits>`, e.g. `20261201T030000123456Z-1a2b3c4d`."""
    return f"{now.astimezone(UTC).strftime(_FORMAT)}-{uuid.uuid4().hex[:8]}"


def id_time(value: str) -> datetime | None:
    """The time a run or plan id was made at; None when `value` is not such an id."""
    match = _ID.match(value)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), _FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
