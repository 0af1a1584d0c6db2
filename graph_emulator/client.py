"""A small synchronous client of the control API (/_emulator), for tests and scripts."""

from __future__ import annotations

from typing import Any

import httpx


def route_keys() -> frozenset[str]:
    """Every `METHOD template` the call log counts Graph requests under (e.g. `GET /users/{id}`)."""
    from .routes_graph import GRAPH_RESOURCES

    return frozenset(f"{method} {key}" for key, _, handlers in GRAPH_RESOURCES for method in handlers)


class EmulatorControl:
    """Calls the control API of an emulator at `url` (e.g. `http://127.0.0.1:8081`); raises
    `httpx.HTTPStatusError` on an error answer. `graph_url` is the emulator's Graph root."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.graph_url = self.url + "/v1.0"
        self._http = httpx.Client(base_url=self.url + "/_emulator", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def health(self) -> dict:
        return self._call("GET", "/health")

    def config(self) -> dict:
        return self._call("GET", "/config")

    def configure(self, **switches: Any) -> dict:
        """PATCH the switches (camelCase or snake_case names); returns the whole configuration."""
        return self._call("PATCH", "/config", json=switches)

    def reset(self) -> dict:
        return self._call("POST", "/reset")

    def seed_user(self, **props: Any) -> dict:
        """Create a user (Graph property names, plus `memberOf` and `sponsors` id lists); returns it in full."""
        return self._call("POST", "/users", json=props)

    def seed_users(self, users: list[dict] | None = None, count: int = 0, **template: Any) -> list[str]:
        """Create many users in one call: `users` (user bodies) and/or `count` generated from `template` (strings may
        hold `{n}`); returns the new ids in order."""
        body = {"users": users or [], "count": count, "template": template}
        return self._call("POST", "/users/bulk", json=body)["ids"]

    def seed_group(self, **props: Any) -> dict:
        return self._call("POST", "/groups", json=props)

    def user(self, user_id: str) -> dict | None:
        """A user in full (deleted ones too), or None when there is no such user."""
        response = self._http.get(f"/users/{user_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def update_user(self, user_id: str, **props: Any) -> dict:
        """Change a user behind the app's back (any property, and `lagRemaining`); returns it in full."""
        return self._call("PATCH", f"/users/{user_id}", json=props)

    def users(self, mail: str | None = None) -> list[dict]:
        return self._call("GET", "/users", params={"mail": mail} if mail else None)

    def groups(self) -> list[dict]:
        return self._call("GET", "/groups")

    def add_members(self, group_id: str, member_ids: list[str]) -> list[str]:
        """Add users or groups (nesting) to a group; returns its member ids."""
        return self._call("POST", f"/groups/{group_id}/members", json={"ids": member_ids})

    def remove_group(self, group_id: str) -> None:
        self._call("DELETE", f"/groups/{group_id}")

    def group_members(self, group_id: str) -> list[str]:
        return self._call("GET", f"/groups/{group_id}/members")

    def redeem(self, user_id: str) -> dict:
        return self._call("POST", f"/users/{user_id}/redeem")

    def age_deletion(self, user_id: str, days: float) -> dict:
        return self._call("POST", f"/users/{user_id}/age-deletion", json={"days": days})

    def remove_user(self, user_id: str) -> None:
        self._call("DELETE", f"/users/{user_id}")

    def calls(self) -> dict:
        return self._call("GET", "/calls")

    def count(self, route: str) -> int:
        """Graph requests received on `route` (`METHOD template`, as the call log names it); a route the emulator
        does not serve raises ValueError, so a misspelt route never reads as "not called"."""
        if route not in route_keys():
            raise ValueError(f"the emulator serves no route {route!r}; known: {sorted(route_keys())}")
        return self.calls()["counts"].get(route, 0)

    def writes(self) -> int:
        """Graph requests received with a writing method (POST, PATCH, PUT, DELETE)."""
        return self.calls()["writes"]

    def clear_calls(self) -> None:
        self._call("DELETE", "/calls")

    def identity(self) -> dict:
        """The managed identity and the tokens its endpoint issued per resource."""
        return self._call("GET", "/identity")

    def clear_identity_counts(self) -> None:
        self._call("DELETE", "/identity")
