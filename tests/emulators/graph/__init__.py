"""Microsoft Graph v1.0 (calendar) + Entra ID v2.0 emulator: real HTTP on 127.0.0.1, stateful.

Written from the Graph and Microsoft identity platform documentation; where the docs are silent
it takes the stricter reading. Control API (all thread-safe)::

    with GraphEmulator() as g:
        tenant = g.add_tenant("contoso.onmicrosoft.com")           # .id is the tenant GUID
        g.add_app(tenant, "client-id", "secret", roles=("Calendars.ReadWrite",))
        g.add_app(tenant, "cli-app", public=True)                  # device-code / delegated
        alice = g.add_mailbox("alice@contoso.onmicrosoft.com")    # enabled=False: no mailbox
        ev = alice.create(subject="Standup", start={...}, end={...})   # as the user in Outlook
        alice.update(ev["id"], subject="New"); alice.delete(ev["id"])
        alice.move(ev["id"], keep_immutable=False)                 # ids change
        alice.attendee_response(ev["id"], "guest@x.example", "accepted")   # a guest replied
        alice.events(); alice.event(id); alice.extended(id)

Addresses: `g.url` (plain HTTP root), `g.graph_url` (`.../v1.0`), `g.authority` (the https
form msal insists on, `https://127.0.0.1:PORT`; authority = f"{g.authority}/{tenant}"),
`g.authority_host`. msal must reach `g.authority` over plain HTTP through its http_client hook
(`g.http_client()` is a requests.Session that does it, for the emulator's own tests). msal's
instance discovery (`/common/discovery/instance`) is served too, so instance_discovery=False
is optional. Token scope for app-only: `https://graph.microsoft.com/.default`.

Sign-in: client credentials (secret or certificate `client_assertion`), device code
(`g.approve_device(user_code, upn)`, `g.decline_device(...)`, `g.device_interval = 1` for
quick polling), refresh tokens (`g.revoke_refresh_tokens(upn)`, `g.rotate_refresh_tokens = True`: a
redeemed one is consumed), `g.expire_tokens()`.
Errors as Entra answers them: AADSTS90002 bad tenant, 700016 unknown client, 7000215 bad
secret, 1002012 scope without /.default, 70016 authorization_pending, 65001 consent.

Graph: GET /users/{id|upn} and /me (app-only: needs User.Read.All or alike), /users/{id}/calendar,
/users/{id|upn}/events (+ /me for delegated tokens, /calendar/... aliases) CRUD,
/events/{id}/instances, /events/{id}/cancel|accept|tentativelyAccept|decline,
/calendarView, /calendarView/delta, /$batch, /subscriptions.
No Calendars.Read(Write) -> 403 ErrorAccessDenied; unknown user -> 404 ErrorInvalidUser; user
without mailbox -> 404 MailboxNotEnabledForRESTAPI; unknown event -> 404 ErrorItemNotFound;
stale If-Match -> 412 ErrorIrresolvableConflict; delta with $expand/$select/$filter/$top ->
400 ErrorInvalidUrlQuery; expired delta token -> 410 syncStateNotFound. $batch parts see
only their own headers (Prefer, If-Match) plus the batch's Authorization; parts without
dependsOn run side by side and share the mailbox's 4-request limit (the 5th part gets 429).

Test levers: `g.expire_delta(upn=None)`, `g.fail_next(regex on "METHOD /path", status,
count, code=, retry_after=)`, `g.reject(event_id, status, times)`, `g.max_concurrency` (4),
`g.throttle.rate` / `g.throttle.per` (10,000 requests per 600 s per app and mailbox),
`g.token_lifetime` (3600 s),
`g.latency` (seconds per call, holding the mailbox slot), `g.lifecycle(subscription_id,
"reauthorizationRequired" | "missed" | "subscriptionRemoved")`, `g.subscriptions.require_https`.

Records: `g.calls` (CallRecord method/path/status/in_batch), `g.http_requests()`,
`g.token_requests`, `g.mailed` (writes that would mail attendees: creates with attendees,
organiser PATCHes of subject/time/location/body/recurrence, organiser DELETEs, added
attendees, removed attendees (a cancellation), cancel, meeting responses
sent to the organiser), `g.attendees_written`, `g.event_writes` (EventWrite method/event_id:
every API write to an event, create included),
`g.deliveries` / `g.wait_for_deliveries(n, kind)`,
(user-side helper writes are the user's own: never in `g.mailed` or `g.calls`)
`g.throttle.peak` (highest concurrency seen per mailbox), `g.reset_counters()`.
"""

from .app import CallRecord
from .errors import GraphError, OAuthError
from .server import GraphEmulator, UserMailbox
from .store import AttendeeWrite, EventWrite, Mail
from .subscriptions import Delivery

__all__ = [
    "AttendeeWrite",
    "CallRecord",
    "Delivery",
    "EventWrite",
    "GraphEmulator",
    "GraphError",
    "Mail",
    "OAuthError",
    "UserMailbox",
]
