"""Finding the object a Graph request names, with the errors Graph answers when it cannot."""

from __future__ import annotations

from .errors import GraphError, not_found, request_bad_request
from .responses import require_guid, utc_now
from .state import Emulator
from .store import GroupRecord, UserRecord


def visible_user(emulator: Emulator, key: str) -> UserRecord:
    """A live user by id or UPN; 404 when unknown, deleted, or still hidden by replication lag
    (each hidden lookup spends one of the user's lag references)."""
    user = emulator.directory.live_user(key)
    if user is None or not user.take_reference():
        raise not_found(key)
    return user


def referenced_user(emulator: Emulator, user_id: str) -> UserRecord:
    """A live user named in a reference write (members/$ref); a lagging one answers per `lagReferenceError`."""
    user = emulator.directory.live_user(user_id)
    if user is None:
        raise not_found(user_id)
    if not user.take_reference():
        raise lag_reference_error(emulator, user_id)
    return user


# group-post-members.md documents this 400 for a reference write while an object "hasn't fully replicated" ("retry
# after a brief delay"); the page names a recently created group, the message any referenced object.
MISSING_OBJECTS = "The source resource object or one of the objects being referenced don't exist."


def lag_reference_error(emulator: Emulator, user_id: str) -> GraphError:
    """What a reference write naming a not-yet-replicated user gets, per switch `lagReferenceError`: 400
    Request_BadRequest with group-post-members' documented message ("missingObjects", the default), 400 "Not a valid
    reference update." (reported; "badReference"), or 404 ("notFound")."""
    if emulator.switches.lag_reference_error == "notFound":
        return not_found(user_id)
    if emulator.switches.lag_reference_error == "badReference":
        return request_bad_request("Not a valid reference update.")
    return request_bad_request(MISSING_OBJECTS)


def existing_group(emulator: Emulator, group_id: str) -> GroupRecord:
    """A group by id; 400 for a non-GUID id, 404 when unknown."""
    group = emulator.directory.groups.get(require_guid(group_id))
    if group is None:
        raise not_found(group_id)
    return group


def deleted_user(emulator: Emulator, object_id: str) -> UserRecord:
    """A user in deleted items; 404 when not deleted, or deleted more than 30 days ago (purged)."""
    user = emulator.directory.users.get(require_guid(object_id))
    if user is None or not user.deleted or user.purged(utc_now()):
        raise not_found(object_id)
    return user
