"""The tags the bridge writes on events in a Microsoft mailbox, shared by the Exchange (EWS)
and Microsoft 365 (Graph) backends so that a mailbox moved from one to the other re-pairs by
tag without duplicates.

Both are named (string) extended MAPI properties in our own property set: EWS addresses them
as ``ExtendedFieldURI PropertySetId=... PropertyName=... PropertyType="String"``, Graph as a
single-value extended property whose id is ``"String {guid} Name <name>"``. Same set, same
names, same values: one property, two wires.
"""

from __future__ import annotations

#: The bridge's own MAPI property set (a fixed GUID: never change it, tags already written
#: in customers' mailboxes are found by it).
PROPERTY_SET_ID = "e822b6e4-41d6-4b27-9be5-8b40a2e50e23"

#: The CRM meeting's UID on the synced copy.
CRM_ID_NAME = "CrmMeetingId"

#: "true" on the Invite action's external copy (never synced back).
INVITE_COPY_NAME = "CrmInviteCopy"

#: The value INVITE_COPY_NAME holds on an invite copy.
INVITE_COPY_VALUE = "true"

#: On an invite copy written over EWS: the sha256 of the Invite action's idempotency key
#: (looked up before a create, so a retry never makes a second copy; a hash, so no CRM id
#: reaches the item). Graph uses its transactionId instead.
INVITE_KEY_NAME = "CrmInviteKey"


def graph_property_id(name: str) -> str:
    """The Graph ``singleValueExtendedProperties`` id of the named string property."""
    return f"String {{{PROPERTY_SET_ID}}} Name {name}"
