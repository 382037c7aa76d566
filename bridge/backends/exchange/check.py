"""``bridge check`` for an exchange binding: the four ways a binding fails before any sync,
told apart in words an admin can act on (wrong URL, wrong password, no such mailbox, no
impersonation right)."""

from __future__ import annotations

from exchangelib import errors as ews

from bridge.backends.exchange.session import Session, code_of


def check_session(session: Session) -> str | None:
    """None when the calendar folder of the mailbox can be read, else what is wrong."""
    settings = session.settings
    try:
        session.account.root.refresh()  # GetFolder: endpoint, credentials, mailbox, rights
        session.account.calendar  # noqa: B018 - the distinguished calendar folder
    except ews.UnauthorizedError:
        return (
            f"EWS at {settings.url} refused {settings.username}'s password "
            f"({settings.auth_type} auth): check the password file or variable"
        )
    except ews.ErrorNonExistentMailbox:
        return f"EWS at {settings.url} has no mailbox {settings.email}: check backend.email"
    except ews.ErrorImpersonateUserDenied:
        return (
            f"{settings.username} may not impersonate {settings.email}: grant the "
            'ApplicationImpersonation role, or use access_type = "delegate"'
        )
    except ews.ErrorAccessDenied:
        return f"{settings.username} has no access to {settings.email}'s calendar (delegate)"
    except (ews.TransportError, ews.RedirectError, OSError) as error:
        return f"cannot reach EWS at {settings.url}: {_reason(error)}"
    except Exception as error:  # noqa: BLE001 - anything else is reported, never raised
        return f"EWS at {settings.url} failed: {code_of(error)}: {str(error)[:200]}"
    return None


def _reason(error: BaseException) -> str:
    text = str(error)
    if "Code: " in text:
        status = text.split("Code: ", 1)[1].split(" ", 1)[0]
        return f"HTTP {status} (is this the EWS URL, ending in /EWS/Exchange.asmx?)"
    return f"{code_of(error)}: {text[:160]}"
