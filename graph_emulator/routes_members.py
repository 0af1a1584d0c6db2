"""Graph handlers that write a group's members: POST members/$ref, DELETE members/{id}/$ref, PATCH members@odata.bind;
and the groups whose members Graph refuses to write whatever you retry.

Sources: api-reference/v1.0/api/group-post-members.md ("204 No Content"; "400 Bad Request ... when the object is
already a member of the group, ... or when the group was recently created and hasn't fully replicated (error message:
'The source resource object or one of the objects being referenced don't exist.' — retry after a brief delay)"; "404
Not Found when the object being added doesn't exist"; "403 Forbidden ... a group that can't be managed through
Microsoft Graph. This API supports only security and Microsoft 365 groups ... a role-assignable group and you don't
have the required permissions" (RoleManagement.ReadWrite.Directory); PATCH with members@odata.bind: "up to 20 members
... If an error condition exists in the request body, no members are added"), resources/groups-overview.md (the table
of group types: mail-enabled security groups (groupTypes [], mailEnabled true, securityEnabled true) and distribution
groups (mailEnabled true, securityEnabled false) are not "Created and managed via API"; "Mail-enabled security groups
are read only"); microsoftgraph/microsoft-graph-docs-contrib#5090 (the "already exist" 400's message) and
microsoftgraph/microsoft-graph-docs#18714 (the not-a-member 404 naming the group)."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from .errors import (
    REQUEST_DENIED,
    GraphError,
    bad_request,
    invalid_object_id,
    not_found,
    request_bad_request,
    request_denied,
)
from .lookup import existing_group, referenced_user
from .responses import is_guid, json_object, no_content, require_guid
from .state import Emulator

MAX_BIND = 20
ALREADY_MEMBER = ("One or more added object references already exist for the following modified properties: "
                  "'members'.")
ON_PREMISES_MASTERED = ("Unable to update the specified properties for on-premises mastered Directory Sync objects or "
                        "objects currently undergoing migration.")
# Graph's words as publicly quoted for a member add on a mail-enabled security group
# (microsoftgraph/microsoft-graph-docs issues #14827 and #14899, where the code read Request_BadRequest); the status
# is the 403 group-post-members now documents, the code the emulator's choice (Authorization_RequestDenied). Match
# the 403, not the code.
MAIL_ENABLED_READ_ONLY = "Cannot Update a mail-enabled security groups and or distribution list."
_REFERENCE_PATH = re.compile(r"/(?:directoryObjects|users)/([^/]+)/?$", re.IGNORECASE)


async def add_member(request: Request, emulator: Emulator) -> Response:
    """POST /groups/{id}/members/$ref {"@odata.id": ".../directoryObjects/{id}"} → 204."""
    member_id = reference_target(await json_object(request))
    group = existing_group(emulator, request.path_params["group_id"])
    refuse_member_writes(group.props)
    user = referenced_user(emulator, member_id)
    if user.id in group.members:
        raise request_bad_request(ALREADY_MEMBER)
    group.members[user.id] = None
    return no_content()


async def bind_members(request: Request, emulator: Emulator) -> Response:
    """PATCH /groups/{id} {"members@odata.bind": [up to 20 references]} → 204, all or nothing."""
    body = await json_object(request)
    references = body.pop("members@odata.bind", None)
    if body or not isinstance(references, list) or not references:
        raise request_bad_request("The emulator's PATCH /groups/{id} takes only a non-empty 'members@odata.bind'.")
    if len(references) > MAX_BIND:
        raise bad_request(f"At most {MAX_BIND} members can be added in one request.")
    member_ids = [reference_id(reference) for reference in references]
    group = existing_group(emulator, request.path_params["group_id"])
    refuse_member_writes(group.props)
    users = [referenced_user(emulator, member_id) for member_id in member_ids]
    if any(user.id in group.members for user in users) or len(set(member_ids)) < len(member_ids):
        raise request_bad_request(ALREADY_MEMBER)
    group.members.update({user.id: None for user in users})
    return no_content()


async def remove_member(request: Request, emulator: Emulator) -> Response:
    """DELETE /groups/{id}/members/{id}/$ref → 204; not a member → 404 naming the group."""
    group = existing_group(emulator, request.path_params["group_id"])
    refuse_member_writes(group.props)
    member_id = require_guid(request.path_params["member_id"])
    if member_id not in group.members:
        raise not_found(group.id)
    del group.members[member_id]
    return no_content()


def member_write_refusal(props: dict) -> GraphError | None:
    """What Graph answers any member write (add, remove, bind) on a group that refuses it whatever you retry:
    - dynamic membership: 403 Authorization_RequestDenied "Insufficient privileges to complete the operation."
      (publicly reported, e.g. KelvinTegelaar/CIPP#468 adding a user to a dynamic "All Users" group);
    - mastered on-premises: 400 Request_BadRequest "Unable to update the specified properties for on-premises
      mastered Directory Sync objects ..." (the directory's answer to any cloud write on a synced object);
    - mail-enabled security group or distribution group (mailEnabled, no "Unified" in groupTypes): 403, read-only
      in Graph (groups-overview; group-post-members);
    - role-assignable: 403 Authorization_RequestDenied unless the app also holds RoleManagement.ReadWrite.Directory
      (group-post-members); the emulated app does not."""
    kinds = [kind.lower() for kind in props.get("groupTypes") or []]
    if "dynamicmembership" in kinds:
        return request_denied()
    if props.get("onPremisesSyncEnabled"):
        return request_bad_request(ON_PREMISES_MASTERED)
    if props.get("mailEnabled") and "unified" not in kinds:
        return GraphError(403, REQUEST_DENIED, MAIL_ENABLED_READ_ONLY)
    if props.get("isAssignableToRole"):
        return request_denied()
    return None


def refuse_member_writes(props: dict) -> None:
    refusal = member_write_refusal(props)
    if refusal is not None:
        raise refusal


def reference_target(body: dict) -> str:
    """The object id the `@odata.id` of a members/$ref body names."""
    return reference_id(body.get("@odata.id"))


def reference_id(reference: object) -> str:
    """The object id an `@odata.id` reference names (…/directoryObjects/{id} or …/users/{id})."""
    if not isinstance(reference, str) or not reference.strip():
        raise bad_request("The request body must contain an '@odata.id' reference to a directory object.")
    match = _REFERENCE_PATH.search(urlsplit(reference.strip()).path)
    if match is None or not is_guid(unquote(match.group(1))):
        raise invalid_object_id(reference)
    return unquote(match.group(1)).lower()
