"""`bridge check` on exchange bindings, as an admin runs it: a wrong URL, a wrong password, a
missing mailbox and a missing impersonation right, each said apart, against the EWS
emulator; the good binding is ok."""

from __future__ import annotations

from pathlib import Path

from bridge.config import load_config
from bridge.wiring import open_store
from tests.emulators.ews import EwsEmulator
from tests.support.cli import bridge
from tests.support.databases import database

USERS = {
    "ok": {},
    "badurl": {"url": "/mail/EWS/Exchange.asmx"},  # a path this server does not serve
    "badpass": {"password_env": "EWS_WRONG_PASSWORD"},
    "nobox": {"email": "nobody@corp.test"},
    "noimp": {"email": "bob@corp.test", "username": "CORP\\\\alice"},
}


def _config(path: Path, db: str, ews: EwsEmulator, secret: Path) -> None:
    lines = [f'[server]\nauth = "none"\n\n[store]\nurl = "{db}"\n']
    for login, change in USERS.items():
        url = ews.url.replace("/EWS/Exchange.asmx", change.get("url", "/EWS/Exchange.asmx"))
        email = change.get("email", "alice@corp.test")
        username = change.get("username", "CORP\\\\svc")  # a TOML basic string
        password = (
            f'password_env = "{change["password_env"]}"'
            if "password_env" in change
            else f'password_file = "{secret}"'
        )
        lines.append(
            f'[[users]]\nlogin = "{login}"\nemail = "{login}@corp.test"\n'
            f'[[users.bindings]]\nname = "ews"\nkind = "exchange"\n[users.bindings.backend]\n'
            f'url = "{url}"\nemail = "{email}"\n'
            f'username = "{username}"\n{password}\n'
            'auth_type = "ntlm"\naccess_type = "impersonation"\nmax_retries = 0\n'
        )
    path.write_text("\n".join(lines))


def test_bridge_check_tells_the_four_failures_apart(tmp_path, monkeypatch):
    secret = tmp_path / "svc.password"
    secret.write_text("pw\n")
    secret.chmod(0o600)
    monkeypatch.setenv("EWS_WRONG_PASSWORD", "not-the-password")
    with EwsEmulator() as ews, database("sqlite", tmp_path) as db:
        for box in ("alice@corp.test", "bob@corp.test"):
            ews.add_mailbox(box)
        ews.add_account("CORP\\svc", "pw", impersonation=("alice@corp.test", "bob@corp.test"))
        ews.add_account("CORP\\alice", "pw", mailboxes=("alice@corp.test",))
        config = tmp_path / "bridge.toml"
        _config(config, db, ews, secret)
        open_store(load_config(config)).dispose()  # tables and bindings, as `db upgrade`
        checked = bridge("check", "--config", str(config), cwd=tmp_path)
    out = {line.split(":", 1)[0]: line for line in checked.stdout.splitlines()}
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert out["ok/ews (exchange)"].endswith(": ok")
    assert "cannot reach EWS" in out["badurl/ews (exchange)"]
    assert "refused CORP\\svc's password" in out["badpass/ews (exchange)"]
    assert "no mailbox nobody@corp.test" in out["nobox/ews (exchange)"]
    assert "may not impersonate bob@corp.test" in out["noimp/ews (exchange)"]
    assert "pw" not in checked.stdout.replace("password", "")  # no secret shown
