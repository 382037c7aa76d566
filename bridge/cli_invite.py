"""`bridge invite MEETING`: the Invite action from the command line (bridge.invite).

    bridge invite UID --preview [--template NAME] [--language da]   what guests would get
    bridge invite UID [--send | --no-send] [--template ...]         send (or hold unsent)
    bridge invite UID --state                                       sent? out of date?
    bridge invite UID --update [--no-send]                          send the changes
    bridge invite UID --cancel [--no-send]                          cancel it

A refusal prints the field and the reason and exits 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command imports them when it runs (bridge.cli starts light)
    from bridge.invite import InviteState, Preview


def _print_preview(preview: Preview) -> None:
    print(f"meeting:   {preview.meeting_uid} (from binding {preview.binding})")
    print(f"subject:   {preview.subject}")
    when = "all day" if preview.all_day else preview.timezone
    print(f"time:      {preview.start} – {preview.end} ({when})")
    if preview.location:
        print(f"location:  {preview.location}")
    for line in preview.recurrence:
        print(f"repeats:   {line}")
    for o in preview.occurrences:
        place = f" at {o['location']}" if o["location"] else ""
        when = f"{o['start']} – {o['end']}"
        print(f"moved:     {o['recurrence_id']} -> {when}: {o['subject']}{place}")
    print(f"organiser: {preview.organiser.name} <{preview.organiser.email}>")
    for person in preview.attendees:
        print(f"attendee:  {person.name} <{person.email}>")
    can = preview.abilities
    print(
        f"can send:  {'yes' if can.can_send else 'no'}; can hold unsent: "
        f"{'yes' if can.can_hold_unsent else 'no'}"
    )
    if can.note:
        print(f"note:      {can.note}")
    print(f"--- {preview.template}.{preview.language} ---")
    print(preview.description, end="")


def _print_state(state: InviteState) -> None:
    print(f"invite of {state.meeting_uid}: {state.state}")
    if state.state == "none":
        return
    sent = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.sent_at)) if state.sent_at else "-"
    )
    print(f"  sequence {state.sequence}, to {', '.join(state.recipients)}, at {sent}")
    if state.out_of_date:
        print("  OUT OF DATE:")
        for diff in state.differences:
            print(f"    {diff.field}: sent {diff.sent}, now {diff.now}")


def cmd_invite(args: argparse.Namespace) -> int:
    from bridge.config import load_config
    from bridge.invite import InviteError
    from bridge.wiring import Wiring

    wiring = Wiring(load_config(args.config))
    invites = wiring.invites(wiring.store(adopt=False))
    uid = args.meeting
    choice: dict[str, Any] = {"template": args.template or "", "language": args.language or ""}
    try:
        if args.preview:
            _print_preview(invites.preview(uid, **choice))
        elif args.state:
            _print_state(invites.state(uid))
        elif args.update:
            _print_state(invites.update(uid, send=args.send, **choice))
        elif args.cancel:
            _print_state(invites.cancel(uid, send=args.send))
        else:
            _print_state(invites.send(uid, send=args.send, **choice))
    except InviteError as refused:
        print(f"bridge: invite {uid}: {refused.field}: {refused.reason}", file=sys.stderr)
        return 1
    return 0


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    invite = commands.add_parser(
        "invite", parents=[common], help="preview, send, update or cancel a meeting's invitation"
    )
    invite.add_argument("meeting", help="the meeting's UID")
    action = invite.add_mutually_exclusive_group()
    action.add_argument("--preview", action="store_true", help="show what guests would get")
    action.add_argument("--state", action="store_true", help="what was sent; is it out of date")
    action.add_argument("--update", action="store_true", help="send the meeting's changes")
    action.add_argument("--cancel", action="store_true", help="cancel the invitation")
    invite.add_argument(
        "--send",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="mail the guests (default); --no-send: create or change the copy unsent",
    )
    invite.add_argument("--template", help="template name (default: default)")
    invite.add_argument("--language", help="en, da, sv or de (default: [invite] default_language)")
    invite.set_defaults(func=cmd_invite)
