"""EwsEmulator: the HTTP endpoint (Basic / NTLM) on a free port in a thread, and the control API."""

from __future__ import annotations

import base64
import binascii
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import dispatch
from .auth import NtlmAcceptor, NtlmUsers, SpnegoError, basic_credentials
from .faults import Faults
from .meetings import ItemSend, Mail
from .push import Delivery, Push
from .store import Account, State
from .streaming import StreamPlan
from .user import MailboxView

ENDPOINT = "/EWS/Exchange.asmx"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.ntlm: NtlmAcceptor | None = None
        self.ntlm_user: str | None = None  # this connection is NTLM-authenticated as ...

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _challenge(self, token: bytes | None = None, scheme: str = "NTLM") -> None:
        emulator = self.server.emulator
        headers = []
        if token is not None:
            headers.append(("WWW-Authenticate", f"{scheme} " + base64.b64encode(token).decode()))
        else:
            if "ntlm" in emulator.auth_schemes:
                headers += [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")]
            if "basic" in emulator.auth_schemes:
                headers.append(
                    ("WWW-Authenticate", f'Basic realm="{self.server.server_address[0]}"')
                )
        self._send(401, b"", headers)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._send(405, b"", [("Allow", "POST")])

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.split("?")[0].lower() != ENDPOINT.lower():
            self._send(404, b"")
            return
        account = self._authenticate()
        if account is None:
            return
        status, payload, stream = self.server.emulator._serve(account, body)
        if stream is None:
            self._send(status, payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def write(chunk: bytes) -> None:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()

        self.server.emulator.push.streams.serve(stream, write)
        self.wfile.write(b"0\r\n\r\n")

    def _authenticate(self) -> Account | None:
        emulator = self.server.emulator
        header = self.headers.get("Authorization")
        if header is None:
            if self.ntlm_user is not None:
                return emulator._account_for_ntlm(self.ntlm_user)
            self._challenge()
            return None
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and "basic" in emulator.auth_schemes:
            creds = basic_credentials(value.strip())
            account = emulator._account_for_basic(*creds) if creds else None
            if account is None:
                self._challenge()
            return account
        if scheme in ("ntlm", "negotiate") and "ntlm" in emulator.auth_schemes:
            try:
                token = base64.b64decode(value.strip(), validate=True)
                if self.ntlm is None:
                    self.ntlm = NtlmAcceptor(emulator._ntlm_users)
                out, user = self.ntlm.step(token)
            except (SpnegoError, binascii.Error, ValueError):
                self.ntlm, self.ntlm_user = None, None
                self._challenge()
                return None
            if user is None:
                # the challenge answers in the scheme the client used (NTLM or Negotiate)
                self._challenge(out or b"", "Negotiate" if scheme == "negotiate" else "NTLM")
                return None
            self.ntlm_user = user
            account = emulator._account_for_ntlm(user)
            if account is None:
                self._challenge()
            return account
        self._challenge()
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: EwsEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client dropping its connection (as exchangelib does after a stream) is no error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class EwsEmulator:
    """A stateful Exchange 2016 EWS endpoint on 127.0.0.1. See the package docstring for the API."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, auth: tuple[str, ...] = ("ntlm", "basic")
    ):
        self.host, self.port = host, port
        self.auth_schemes = tuple(a.lower() for a in auth)
        self.lock = threading.RLock()
        self.state = State()
        self.faults = Faults()
        self.calls: list[tuple[str, str | None]] = []
        self.sends: list[tuple[str, str, str]] = []
        self.item_sends: list[ItemSend] = []
        self.writes: list[tuple[str, str, str]] = []
        self.write_requests: list[tuple[str, int]] = []  # (operation, items asked for)
        self.errors: list[
            str
        ] = []  # tracebacks of emulator bugs (answered as ErrorInternalServerError)
        self.push = Push(self.lock)
        self.state.on_event = self._on_event
        self._ntlm_users = NtlmUsers()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> EwsEmulator:
        server = _Server((self.host, self.port), _Handler)
        server.emulator = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="ews-emulator", daemon=True
        )
        self._thread.start()
        self.push.start()
        return self

    def stop(self) -> None:
        self.push.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._ntlm_users.remove()

    def __enter__(self) -> EwsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.errors and exc[0] is None:
            raise AssertionError("the EWS emulator failed internally:\n" + "\n".join(self.errors))

    @property
    def url(self) -> str:
        """The service endpoint (…/EWS/Exchange.asmx)."""
        return f"http://{self.host}:{self.port}{ENDPOINT}"

    # --- directory -------------------------------------------------------------------------
    def add_mailbox(self, email: str, display_name: str | None = None) -> MailboxView:
        with self.lock:
            self.state.add_mailbox(email, display_name)
        return self.mailbox(email)

    def add_account(
        self,
        username: str,
        password: str,
        mailboxes: tuple[str, ...] | list[str] = (),
        impersonation: tuple[str, ...] | list[str] = (),
    ) -> None:
        """An AD account. `mailboxes`: its own (and delegate-accessible) mailboxes; `impersonation`:
        mailboxes it may impersonate ("*" = any, like an unscoped ApplicationImpersonation role).
        Usernames may be "DOMAIN\\user" or "user@domain"; NTLM and Basic both accept them."""
        with self.lock:
            for email in mailboxes:
                self.state.add_mailbox(email)
            self.state.accounts[username.lower()] = Account(
                username,
                password,
                frozenset(e.lower() for e in mailboxes),
                frozenset(e.lower() for e in impersonation),
            )
            self._ntlm_users.write(list(self.state.accounts.values()))

    def mailbox(self, email: str) -> MailboxView:
        with self.lock:
            self.state.mailbox(email)
        return MailboxView(self, email)

    # --- faults and records ----------------------------------------------------------------
    def expire_sync_state(self) -> None:
        """Every SyncState issued so far becomes invalid (ErrorInvalidSyncStateData)."""
        with self.lock:
            self.state.expire_sync_states()

    def fail_next(
        self,
        operation: str,
        code: str = "ErrorServerBusy",
        count: int = 1,
        back_off_ms: int | None = None,
    ) -> None:
        """The next `count` calls of `operation` ("*" = any) get a SOAP fault with this code (HTTP
        500); ErrorServerBusy carries BackOffMilliseconds when back_off_ms is given."""
        with self.lock:
            self.faults.fail_next(operation, code, count, back_off_ms)

    def fail_next_http(self, operation: str, status: int = 503, count: int = 1) -> None:
        """The next `count` calls of `operation` get a bare HTTP `status` (no SOAP body)."""
        with self.lock:
            self.faults.http_fail_next(operation, status, count)

    def reject(
        self,
        item_id: str,
        code: str,
        times: int = 1,
        operations: tuple[str, ...] | None = None,
        text: str | None = None,
    ) -> None:
        """The next `times` GetItem/UpdateItem/DeleteItem/MoveItem/FindItem (or only the named
        `operations`) touching the item answer its response message with ResponseClass="Error"
        and this ResponseCode (FindItem: the whole call), and `text` as MessageText."""
        with self.lock:
            self.faults.reject(
                item_id, code, times, frozenset(operations) if operations else None, text
            )

    def refuse_first_item(self, operation: str, code: str, text: str, count: int = 1) -> None:
        """The first item of each of the next `count` calls of `operation` (CreateItem,
        UpdateItem, DeleteItem, ...) is refused: its response message has ResponseClass="Error",
        this ResponseCode and MessageText, nothing of it is done; the call's other items are."""
        with self.lock:
            self.faults.refuse_first(operation, code, text, count)

    def reject_create(self, code: str, times: int = 1, subject: str | None = None) -> None:
        """The next `times` items of CreateItem calls (only those with this Subject, when given)
        fail alone with this ResponseCode; the other items of the same call are created."""
        with self.lock:
            self.faults.reject_create(code, times, subject)

    # --- push notifications ------------------------------------------------------------------
    def _on_event(self, kind: str, item: Any, old_id: str) -> None:
        box = self.state.mailbox(item.mailbox)
        self.push.item_event(
            kind, box.email, box.folder_id("calendar"), item.id, item.change_key, old_id
        )

    def send_status(self) -> None:
        """Every push subscription gets a StatusEvent now (the server sends one after
        StatusFrequency minutes without events; tests do not wait that long)."""
        self.push.status_now()

    def wait_for_deliveries(self, timeout: float = 10.0) -> list[Delivery]:
        """Block until every queued notification has been POSTed; the deliveries so far."""
        if not self.push.wait_idle(timeout):
            raise TimeoutError("push notifications still pending")
        with self.lock:
            return list(self.push.deliveries)

    def close_streams(self) -> None:
        """Open GetStreamingEvents answers end now (ConnectionStatus Closed), as when their
        ConnectionTimeout (minutes) runs out."""
        self.push.streams.close_all()

    @property
    def subscriptions(self) -> list[str]:
        with self.lock:
            return list(self.push.subscriptions)

    @property
    def mailed(self) -> list[Mail]:
        """Every meeting message a write sent (meetings.py says who gets what), in order."""
        with self.lock:
            out = []
            for send in self.item_sends:
                if send.mailed_to:
                    out.append(Mail(send.operation, send.item_id, send.kind, send.mailed_to))
                if send.cancelled_to:
                    out.append(
                        Mail(send.operation, send.item_id, "cancellation", send.cancelled_to)
                    )
            return out

    def clear_records(self) -> None:
        with self.lock:
            self.calls.clear()
            self.sends.clear()
            self.item_sends.clear()
            self.writes.clear()
            self.write_requests.clear()

    # --- the handler's entry points --------------------------------------------------------
    def _account_for_basic(self, username: str, password: str) -> Account | None:
        with self.lock:
            account = self.state.accounts.get(username.lower())
            return account if account is not None and account.password == password else None

    def _account_for_ntlm(self, principal: str) -> Account | None:
        with self.lock:
            wanted = principal.lower()
            for key, account in self.state.accounts.items():
                bare = key.split("\\", 1)[-1]
                if wanted in (key, bare):
                    return account
            return None

    def _serve(self, account: Account, body: bytes) -> tuple[int, bytes, StreamPlan | None]:
        with self.lock:
            outcome = dispatch.handle(
                self.state, self.faults, self.push, account, body, self.write_requests
            )
            call = outcome.call
            mailbox = None
            if call is not None:
                mailbox = call.impersonated or (
                    call.mailboxes_touched[0] if call.mailboxes_touched else None
                )
                self.sends.extend(call.sends)
                self.item_sends.extend(call.item_sends)
                self.writes.extend(call.writes)
            self.calls.append((outcome.operation, mailbox))
            if outcome.error is not None:
                self.errors.append(outcome.error)
            return outcome.status, outcome.body, outcome.stream
