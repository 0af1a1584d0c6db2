"""GET/PATCH/DELETE /users, $select and $filter, revokeSignInSessions, deleted items and restore."""

from __future__ import annotations

DEFAULT_SET = {"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
               "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}
EVENTUAL = {"ConsistencyLevel": "eventual"}


def error_of(response) -> tuple[str, str]:
    body = response.json()["error"]
    return body["code"], body["message"]


def guest(control, mail: str, **props) -> dict:
    return control.seed_user(mail=mail, userType="Guest", **props)


def test_get_user_returns_only_the_default_set_without_select(graph, control):
    user = guest(control, "ann@fabrikam.com", companyName="Fabrikam")

    body = graph.get(f"/users/{user['id']}").json()

    assert set(body) - {"@odata.context"} == DEFAULT_SET
    assert body["mail"] == "ann@fabrikam.com"
    assert "userType" not in body and "accountEnabled" not in body and "companyName" not in body


def test_get_user_with_select_returns_exactly_the_named_properties(graph, control):
    user = guest(control, "ann@fabrikam.com", companyName="Fabrikam")

    response = graph.get(f"/users/{user['id']}",
                         params={"$select": "id,userType,externalUserState,accountEnabled,companyName,otherMails"})

    body = response.json()
    assert response.status_code == 200
    assert body.pop("@odata.context").endswith(
        "$metadata#users(id,userType,externalUserState,accountEnabled,companyName,otherMails)/$entity")
    assert body == {"id": user["id"], "userType": "Guest", "externalUserState": "PendingAcceptance",
                    "accountEnabled": True, "companyName": "Fabrikam", "otherMails": ["ann@fabrikam.com"]}


def test_unknown_select_property_and_unknown_user(graph, control):
    user = guest(control, "ann@fabrikam.com")
    missing = "7a0c1f52-3b4d-4e6f-8a9b-0c1d2e3f4a5b"

    bad_select = graph.get(f"/users/{user['id']}", params={"$select": "id,favouriteColour"})
    unknown = graph.get(f"/users/{missing}")

    assert bad_select.status_code == 400
    assert unknown.status_code == 404
    assert error_of(unknown) == ("Request_ResourceNotFound", f"Resource '{missing}' does not exist or one of its "
                                 "queried reference-property objects are not present.")


def test_filter_with_escaped_quote_finds_the_user(graph, control):
    user = guest(control, "o'brien@fabrikam.com")

    response = graph.get("/users", params={
        "$filter": "mail eq 'O''Brien@fabrikam.com' or otherMails/any(m:m eq 'O''Brien@fabrikam.com')",
        "$select": "id,mail"})

    assert response.status_code == 200
    assert response.json()["value"] == [{"id": user["id"], "mail": "o'brien@fabrikam.com"}]


def test_unescaped_quote_is_an_invalid_filter(graph, control):
    guest(control, "o'brien@fabrikam.com")

    response = graph.get("/users", params={"$filter": "mail eq 'o'brien@fabrikam.com'"})

    assert response.status_code == 400
    code, message = error_of(response)
    assert code == "BadRequest" and message.startswith("Invalid filter clause")


def test_guidance_filter_with_upn_and_proxy_addresses(graph, control):
    member = control.seed_user(mail="max@contoso.com", displayName="Max")
    address = "max@contoso.com"
    clause = (f"userPrincipalName eq '{address}' or mail eq '{address}' or "
              f"proxyAddresses/any(x:x eq 'SMTP:{address}') or otherMails/any(x:x eq '{address}')")

    found = graph.get("/users", params={"$filter": clause}).json()["value"]
    by_proxy = graph.get("/users", params={"$filter": f"proxyAddresses/any(x:x eq 'smtp:{address}')"}).json()
    sign_in_names = graph.get("/users", params={"$filter": f"signInNames/any(x:x eq '{address}')"})

    assert [user["id"] for user in found] == [member["id"]]
    assert [user["id"] for user in by_proxy["value"]] == [member["id"]]
    assert sign_in_names.status_code == 400


def test_filter_operators(graph, control):
    ann = guest(control, "ann@fabrikam.com", displayName="Ann", accountEnabled=False)
    guest(control, "bob@fabrikam.com", displayName="Bob")
    member = control.seed_user(mail="carl@contoso.com", displayName="Carl")

    def ids(clause: str) -> list[str]:
        response = graph.get("/users", params={"$filter": clause, "$select": "id"})
        assert response.status_code == 200, response.text
        return [user["id"] for user in response.json()["value"]]

    assert ids("startswith(displayName,'an')") == [ann["id"]]
    assert ids("accountEnabled eq false") == [ann["id"]]
    assert ids("userType eq 'Member'") == [member["id"]]
    assert ids("(userType eq 'guest' and startswith(mail,'B')) or displayName eq 'carl'") == [
        ids("displayName eq 'Bob'")[0], member["id"]]
    assert ids("mail in ('ann@fabrikam.com', 'carl@contoso.com')") == [ann["id"], member["id"]]


def test_advanced_operators_need_consistency_level_and_count(graph, control):
    guest(control, "ann@fabrikam.com")
    member = control.seed_user(mail="carl@contoso.com")

    plain = graph.get("/users", params={"$filter": "userType ne 'Guest'"})
    count_only = graph.get("/users", params={"$count": "true"})
    advanced = graph.get("/users", params={"$filter": "userType ne 'Guest'", "$count": "true"}, headers=EVENTUAL)
    ends = graph.get("/users", params={"$filter": "endswith(mail,'@contoso.com')", "$count": "true"},
                     headers=EVENTUAL)

    assert plain.status_code == 400 and error_of(plain)[0] == "Request_UnsupportedQuery"
    assert count_only.status_code == 400 and error_of(count_only)[0] == "Request_UnsupportedQuery"
    assert advanced.status_code == 200
    assert advanced.json()["@odata.count"] == 1
    assert [user["id"] for user in advanced.json()["value"]] == [member["id"]]
    assert [user["id"] for user in ends.json()["value"]] == [member["id"]]


def test_filter_errors(graph):
    for clause, code in [("mail eq", "BadRequest"), ("nosuch eq 'x'", "BadRequest"),
                         ("otherMails eq 'x'", "BadRequest"), ("mail eq 'x' and", "BadRequest"),
                         ("accountEnabled eq 'yes'", "BadRequest"), ("createdDateTime eq 'x'",
                                                                      "Request_UnsupportedQuery")]:
        response = graph.get("/users", params={"$filter": clause})
        assert response.status_code == 400, clause
        assert error_of(response)[0] == code, clause


def test_paging_follows_next_links_and_hides_deleted_users(graph, control):
    created = [guest(control, f"user{n}@fabrikam.com")["id"] for n in range(5)]
    graph.delete(f"/users/{created[4]}")

    seen, url, pages = [], "/users?$top=2&$select=id", 0
    while url:
        body = graph.get(url).json()
        seen += [user["id"] for user in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
        assert url is None or url.startswith(graph.base_url.scheme + "://")

    assert seen == created[:4]
    assert pages == 2
    assert graph.get("/users", params={"$top": "1000"}).status_code == 400


def test_patch_writes_allowed_properties_and_refuses_read_only(graph, control):
    user = guest(control, "ann@fabrikam.com")

    ok = graph.patch(f"/users/{user['id']}",
                     json={"@odata.type": "#microsoft.graph.user", "accountEnabled": False, "department": "Ops"})
    read_only = graph.patch(f"/users/{user['id']}", json={"userType": "Member"})
    unknown = graph.patch(f"/users/{user['id']}", json={"favouriteColour": "blue"})
    wrong_type = graph.patch(f"/users/{user['id']}", json={"accountEnabled": "no"})

    assert ok.status_code == 204 and ok.content == b""
    after = control.user(user["id"])
    assert after["accountEnabled"] is False and after["department"] == "Ops" and after["userType"] == "Guest"
    for response in (read_only, unknown, wrong_type):
        assert response.status_code == 400
        assert error_of(response)[0] == "Request_BadRequest"


def test_revoke_sign_in_sessions(graph, control):
    user = guest(control, "ann@fabrikam.com", signInSessionsValidFromDateTime="2020-01-01T00:00:00Z")

    response = graph.post(f"/users/{user['id']}/revokeSignInSessions")

    assert response.status_code == 200
    assert response.json()["value"] is True
    assert control.user(user["id"])["signInSessionsValidFromDateTime"] > "2026-"
    assert graph.post("/users/3c2b1a09-8f7e-4d6c-b5a4-938271605f4e/revokeSignInSessions").status_code == 404


def test_soft_delete_and_restore_brings_memberships_back(graph, control, group):
    user = guest(control, "ann@fabrikam.com", memberOf=[group["id"]])

    deleted = graph.delete(f"/users/{user['id']}")
    gone = graph.get(f"/users/{user['id']}")
    in_bin = graph.get(f"/directory/deletedItems/{user['id']}", params={"$select": "id,deletedDateTime,userType"})
    members_while_deleted = control.group_members(group["id"])
    restored = graph.post(f"/directory/deletedItems/{user['id']}/restore")

    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert in_bin.status_code == 200
    assert in_bin.json()["userType"] == "Guest" and in_bin.json()["deletedDateTime"].endswith("Z")
    assert members_while_deleted == []
    assert restored.status_code == 200
    assert restored.json()["id"] == user["id"]
    assert control.group_members(group["id"]) == [user["id"]]
    assert graph.get(f"/users/{user['id']}").status_code == 200
    assert graph.get(f"/directory/deletedItems/{user['id']}").status_code == 404


def test_restore_after_thirty_days_is_not_found(graph, control):
    user = guest(control, "ann@fabrikam.com")
    graph.delete(f"/users/{user['id']}")
    control.age_deletion(user["id"], days=31)

    response = graph.post(f"/directory/deletedItems/{user['id']}/restore")

    assert response.status_code == 404
    assert error_of(response)[0] == "Request_ResourceNotFound"
    assert graph.get(f"/directory/deletedItems/{user['id']}").status_code == 404
    assert control.user(user["id"])["purged"] is True


def test_restore_of_a_live_user_and_permanent_delete(graph, control):
    user = guest(control, "ann@fabrikam.com")

    live = graph.post(f"/directory/deletedItems/{user['id']}/restore")
    graph.delete(f"/users/{user['id']}")
    purged = graph.delete(f"/directory/deletedItems/{user['id']}")

    assert live.status_code == 404
    assert purged.status_code == 204
    assert control.user(user["id"]) is None
    assert graph.post(f"/directory/deletedItems/{user['id']}/restore").status_code == 404


def test_member_of_lists_groups(graph, control, group):
    user = guest(control, "ann@fabrikam.com", memberOf=[group["id"]])

    body = graph.get(f"/users/{user['id']}/memberOf", params={"$select": "id,displayName"}).json()

    assert body["value"] == [{"@odata.type": "#microsoft.graph.group", "id": group["id"],
                              "displayName": "Partners"}]


def test_sponsors_are_added_by_reference_and_listed(graph, control):
    guest = control.seed_user(mail="ann@fabrikam.com", userType="Guest")
    sponsor = control.seed_user(displayName="Sam", mail="sam@contoso.com")
    body = {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{sponsor['id']}"}

    added = graph.post(f"/users/{guest['id']}/sponsors/$ref", json=body)
    again = graph.post(f"/users/{guest['id']}/sponsors/$ref", json=body)
    unknown = graph.post(f"/users/{guest['id']}/sponsors/$ref",
                         json={"@odata.id": "https://graph.microsoft.com/v1.0/users/4f1c3a52-8d9e-4b6f-a1c2-3d4e5f607199"})
    listed = graph.get(f"/users/{guest['id']}/sponsors").json()

    assert added.status_code == 204
    assert again.status_code == 400 and "already exist" in again.json()["error"]["message"]
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "Request_ResourceNotFound"
    assert [(item["id"], item["@odata.type"]) for item in listed["value"]] == [(sponsor["id"], "#microsoft.graph.user")]
    assert control.user(guest["id"])["sponsors"] == [sponsor["id"]]


def test_restore_when_another_user_now_holds_the_upn_is_400_and_restores_nothing(graph, control, group):
    """directory-deleteditems-restore.md is silent on this conflict; Graph answers 400 Request_BadRequest "Another
    object with the same value for property userPrincipalName already exists."
    (microsoftgraph/microsoft-graph-docs#1508, microsoftgraph/entra-powershell#1484). The control API creates the
    situation: a user seeded with the deleted guest's userPrincipalName."""
    user = guest(control, "ann@fabrikam.com", memberOf=[group["id"]])
    assert graph.delete(f"/users/{user['id']}").status_code == 204
    taker = control.seed_user(mail="ann.other@contoso.com", userPrincipalName=user["userPrincipalName"].upper())

    refused = graph.post(f"/directory/deletedItems/{user['id']}/restore")
    still_deleted = graph.get(f"/directory/deletedItems/{user['id']}")
    control.remove_user(taker["id"])
    restored = graph.post(f"/directory/deletedItems/{user['id']}/restore")

    assert refused.status_code == 400
    assert error_of(refused) == ("Request_BadRequest",
                                 "Another object with the same value for property userPrincipalName already exists.")
    assert still_deleted.status_code == 200
    assert restored.status_code == 200 and control.group_members(group["id"]) == [user["id"]]
