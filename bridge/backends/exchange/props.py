"""The named extended properties the bridge keeps on a calendar item, as exchangelib
attributes of ``CalendarItem``.

``crm_meeting_id`` and ``crm_invite_copy`` are the tags of bridge.backends.microsoft_tags
(the Graph backend reads the same ones); ``crm_invite_key`` the hashed idempotency key of an
invite copy (EWS only). ``crm_zone`` and ``crm_rule`` hold, in the same
property set, the IANA zone and the RRULE we last wrote: EWS keeps Windows zone ids and its
own recurrence patterns, so several IANA zones or RRULE spellings come back as one; when
what EWS gives back is still what we wrote, the wire reports what we wrote (an exact round
trip, bridge.backends.base).
"""

from __future__ import annotations

from exchangelib import CalendarItem, ExtendedProperty
from exchangelib.fields import InvalidField

from bridge.backends.microsoft_tags import (
    CRM_ID_NAME,
    INVITE_COPY_NAME,
    INVITE_KEY_NAME,
    PROPERTY_SET_ID,
)

ZONE_NAME = "CrmTimeZone"
RULE_NAME = "CrmRecurrence"


def _named(name: str) -> type[ExtendedProperty]:
    attrs = {"property_set_id": PROPERTY_SET_ID, "property_name": name, "property_type": "String"}
    return type(f"Bridge{name}", (ExtendedProperty,), attrs)


#: attribute name on CalendarItem -> property name in our set
PROPERTIES = {
    "crm_meeting_id": CRM_ID_NAME,
    "crm_invite_copy": INVITE_COPY_NAME,
    "crm_invite_key": INVITE_KEY_NAME,
    "crm_zone": ZONE_NAME,
    "crm_rule": RULE_NAME,
}


def register() -> None:
    """Make the properties attributes of CalendarItem (once per process)."""
    for attr, name in PROPERTIES.items():
        try:
            CalendarItem.get_field_by_fieldname(attr)
        except InvalidField:  # not registered yet
            CalendarItem.register(attr, _named(name))


register()
