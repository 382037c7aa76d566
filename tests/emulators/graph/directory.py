"""The few directory reads a calendar client makes: GET /users/{id}, /me, /users/{id}/calendar."""

from __future__ import annotations

from typing import Any

from .call import Reply
from .errors import GraphError
from .identity import Grant
from .store import Mailbox, State

USER_READ = {"User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All", "Directory.Read.All"}


def user(state: State, grant: Grant, key: str) -> Reply:
    """A user of the token's tenant; app-only tokens need a User.Read.All-like role."""
    box = state.mailbox(key)
    if grant.delegated:
        allowed = (box is not None and box.upn == grant.user) or bool(grant.permissions & USER_READ)
    else:
        allowed = bool(grant.permissions & USER_READ)
    if not allowed:
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )
    if box is None or box.tenant_id != grant.tenant_id:
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{key}' does not exist or one of its queried reference-property objects "
            "are not present.",
        )
    return Reply(200, user_json(box))


def user_json(box: Mailbox) -> dict[str, Any]:
    name = box.upn.split("@")[0]
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
        "id": box.user_id,
        "userPrincipalName": box.upn,
        "mail": box.upn if box.enabled else None,
        "displayName": name.capitalize(),
        "givenName": name.capitalize(),
        "surname": None,
        "businessPhones": [],
        "jobTitle": None,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
    }


def calendar(box: Mailbox) -> Reply:
    return Reply(
        200,
        {
            "id": "AAMkCal" + box.user_id.replace("-", ""),
            "name": "Calendar",
            "color": "auto",
            "hexColor": "",
            "isDefaultCalendar": True,
            "changeKey": "nfZyf7VcrEKLNoU37KWlkQAAA0x0+w==",
            "canShare": True,
            "canViewPrivateItems": True,
            "canEdit": True,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": True,
            "isRemovable": False,
            "owner": {"name": user_json(box)["displayName"], "address": box.upn},
        },
    )
