"""EWS (Exchange Web Services, Exchange Server 2016) emulator: SOAP over real HTTP on 127.0.0.1.

exchangelib talks to it unchanged, with a fixed version and no autodiscover:

    with EwsEmulator() as ews:                       # auth=("ntlm", "basic") by default
        ews.add_account("CORP\\svc", "pw", mailboxes=("svc@corp.test",), impersonation=("*",))
        alice = ews.add_mailbox("alice@corp.test")     # -> MailboxView (the user in Outlook)
        config = Configuration(service_endpoint=ews.url, credentials=Credentials("CORP\\svc", "pw"),
                               auth_type=NTLM, version=Version(build=EXCHANGE_2016))
        account = Account("alice@corp.test", config=config, autodiscover=False,
                          access_type=IMPERSONATION)

Operations: GetFolder (root, msgfolderroot, calendar; by DistinguishedFolderId or FolderId),
FindItem (CalendarView expanding recurring masters; or IndexedPageItemView with Restriction
IsEqualTo/IsNotEqualTo/Exists/And/Or/Not on FieldURI or a named ExtendedFieldURI), GetItem
(ItemId, OccurrenceItemId, RecurringMasterItemId; AdditionalProperties incl. ExtendedFieldURI),
CreateItem, UpdateItem (Set/Append/DeleteItemField, ConflictResolution, ChangeKey check),
DeleteItem, MoveItem (new ItemId), SyncFolderItems (paged), ResolveNames, ConvertId,
Subscribe (PushSubscriptionRequest), with SendNotification POSTs to the callback URL
(CreatedEvent, ModifiedEvent, DeletedEvent, MovedEvent, StatusEvent); an answer of
SubscriptionStatus Unsubscribe, or 3 failed deliveries in a row, ends the subscription
(Unsubscribe of a push subscription is ErrorInvalidSubscription, as MS-OXWSNTIF says).
Streaming subscriptions too: Subscribe (StreamingSubscriptionRequest) and GetStreamingEvents,
one chunked answer with an envelope per batch of events until ConnectionTimeout (or
close_streams()), then ConnectionStatus Closed. No heartbeat envelopes between events.
Every answer carries ServerVersionInfo. Strict readings where the docs leave room:
  * SendMeetingInvitations (CreateItem), SendMeetingInvitationsOrCancellations and
    ConflictResolution (UpdateItem), SendMeetingCancellations and DeleteType (DeleteItem) are
    required; without them the item fails with Error...Required / ErrorSchemaValidation.
  * A stale ChangeKey fails with ErrorIrresolvableConflict when ConflictResolution is
    NeverOverwrite; AutoResolve (exchangelib's default) and AlwaysOverwrite overwrite, as
    MS-OXWSCORE describes them. No ChangeKey sent: no check. DeleteItem checks no ChangeKey.
  * FindItem and SyncFolderItems never return Body, attachments or recipient lists: use GetItem.
  * A change to an occurrence (or an occurrence's deletion) changes the master's ChangeKey;
    occurrences carry the master's ChangeKey. Changing a master's Start/Recurrence drops
    exceptions whose original start left the series.
  * CalendarView leaves out items ending before StartDate or starting at or after EndDate
    (an item ending exactly at StartDate is in). With more entries than MaxEntriesReturned it
    answers the first ones with IncludesLastItemInRange="false"; it cannot be combined with a
    Restriction.
  * SyncFolderItems: MaxChangesReturned outside 1..512 is a schema fault; Create/Update/Delete
    are computed against what that SyncState was told (an item created and deleted between
    two calls is never mentioned); masters only, occurrences never appear.
  * Unmodified occurrence ids are derived from the master id and original start, so a move
    (new master id) changes them too.
  * Impersonation (ExchangeImpersonation/ConnectingSID/PrimarySmtpAddress or SmtpAddress): an
    account with no impersonation right -> SOAP fault ErrorImpersonateUserDenied; an unknown
    address -> fault ErrorNonExistentMailbox; a known one outside its scope ->
    ErrorImpersonateUserDenied. Delegate access to a mailbox the account does not own ->
    ErrorAccessDenied; DistinguishedFolderId for an unknown mailbox -> ErrorNonExistentMailbox.
  * Wrong password or unknown user: HTTP 401 (Basic and NTLM alike). NTLM authenticates the
    connection (as IIS does): later requests on it need no Authorization header.
  * Schema violations (a bad enumeration value, a missing ItemShape) are SOAP faults
    ErrorSchemaValidation (HTTP 500); ids that are not base64 are ErrorInvalidIdMalformed.
  * ItemShape BodyType Text/HTML converts the stored body; Best returns it as stored.
  * A failed SyncFolderItems still carries an empty SyncState and IncludesLastItemInRange.
Meetings (meetings.py, from MS-OXWSMTGS): the Send* attribute of a create, update or delete of
an item with attendees decides who is mailed (SendToNone: nobody; ...ToAll...: every attendee;
...ToChanged...: those added or removed); `ews.item_sends` records each item write's value,
attendees and recipients, `ews.mailed` the messages; a guest's response reaches the organiser's
item through `MailboxView.respond(id, address, "Accept" | "Decline" | "Tentative")`.
Not emulated: attachments, the meeting messages themselves (no mailbox receives them), folders other
than root/msgfolderroot/calendar, pull subscriptions, TimeZoneContext (every
answer is in UTC), AutoResolve's "keep the old value" cases, Windows zones beyond those
icalendar maps to IANA; a series expands to at most 5000 occurrences.

Control API (thread-safe; every method takes `ews.lock`):
  ews.url                        the service endpoint
  ews.add_mailbox(email, display_name=None) -> MailboxView
  ews.add_account(username, password, mailboxes=(), impersonation=())
  ews.mailbox(email) -> MailboxView: create(**fields) -> id, update(id, **fields) -> change key
      (None removes a field), set_extended(id, set_id, name, value), delete(id), move(id) -> new id,
      occurrence_starts(id), modify_occurrence(id, original_start, **fields) -> occurrence id,
      delete_occurrence(id, original_start), respond(id, attendee, response), items(), item(id).
      Field names: see user.py.
  ews.expire_sync_state()        all SyncStates so far -> ErrorInvalidSyncStateData
  ews.fail_next(operation, code="ErrorServerBusy", count=1, back_off_ms=None)   SOAP fault, HTTP 500
  ews.fail_next_http(operation, status=503, count=1)                              bare HTTP status
  ews.reject(item_id, code, times=1, operations=None, text=None)   per-item ResponseCode error
      on Get/Update/Delete/Move/FindItem (or only the named operations, e.g. ("UpdateItem",))
  ews.reject_create(code, times=1, subject=None)  per-item error for the next created items
  ews.refuse_first_item(operation, code, text, count=1)   the first item of each of the next
      `count` calls of the operation gets a per-item error; the call's other items are done
  ews.calls   [(operation, mailbox or None)] every request that got past authentication
  ews.sends   [(operation, attribute, value)] every SendMeetingInvitations /
              SendMeetingInvitationsOrCancellations / SendMeetingCancellations received
              ("" when the attribute was absent)
  ews.item_sends [ItemSend(operation, mailbox, item_id, attribute, value, attendees, kind,
              mailed_to, cancelled_to)] one per item a CreateItem/UpdateItem/DeleteItem wrote
  ews.mailed  [Mail(operation, item_id, kind, recipients)] every meeting message those sent
  ews.writes  [(operation, mailbox, item id)] one per item a SOAP call created, updated, deleted
              or moved (a CreateItem of 50 items: 50 rows, one ews.calls entry)
  ews.write_requests  [(operation, items)] every CreateItem/UpdateItem/DeleteItem request and
              how many items it asked to write, refused or failed ones included
  ews.errors  tracebacks of emulator bugs (answered as a fault ErrorInternalServerError); leaving
              the `with` block raises AssertionError when there are any
  ews.clear_records()
  ews.send_status()              a StatusEvent to every push subscription now
  ews.wait_for_deliveries(timeout=10) -> [Delivery(subscription_id, events, status, result)]
  ews.close_streams()            open GetStreamingEvents answers end now (ConnectionStatus Closed)
  ews.subscriptions              ids of the live push and streaming subscriptions
"""

from .server import EwsEmulator
from .user import MailboxView

__all__ = ["EwsEmulator", "MailboxView"]
