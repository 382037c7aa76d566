"""The Invite action's pure parts: who is external, the merge fields, the sandboxed
templates (every bundled language; unknown fields and unsafe code refused, naming the
field), drift, and the `[invite]` table's errors (file, key, reason)."""

from __future__ import annotations

import shutil
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.backends.base import RemoteAttendee
from bridge.config import ConfigError, load_config
from bridge.config.invite import BUNDLED_TEMPLATES, LANGUAGES
from bridge.invite_copy import external_view, invite_copy, is_internal, merge_fields
from bridge.invite_drift import differences
from bridge.invite_render import TemplateProblem, render
from bridge.model import Meeting, Override, Participant, Recurrence

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ORGANISER = RemoteAttendee("alice@example.com", "Alice")


def meeting(**fields) -> Meeting:
    values = {
        "uid": "crm-1",
        "start": START,
        "end": START + timedelta(hours=1),
        "organiser": "alice",
        "subject": "Review",
        "location": "Harbour",
        "timezone": "Europe/Copenhagen",
        "internal_notes": "SECRET",
        "description": "CRM text",
        "internal_users": ["bob"],
        "external": [
            Participant("ann@partner.test", "Ann"),
            Participant("ANN@partner.test", "Ann again"),
            Participant("bob@example.com", "Bob"),
            Participant("carl@sub.example.com", "Carl"),
            Participant("alice@example.com", "Alice herself"),
            Participant("ben@client.test", ""),
        ],
    }
    return Meeting(**(values | fields))


def view(m: Meeting | None = None):
    return external_view(m or meeting(), ORGANISER, {"bob@example.com"}, ("example.com",))


def test_externals_are_neither_users_nor_internal_domains_nor_the_organiser():
    assert [a.email for a in view().attendees] == ["ann@partner.test", "ben@client.test"]
    assert is_internal("x@deep.sub.example.com", set(), ("example.com",))
    assert not is_internal("x@notexample.com", set(), ("example.com",))


def test_the_copy_carries_no_crm_field():
    copy = invite_copy(view(), "text", sequence=2, uid="u@invite")
    carried = repr(copy)
    for secret in ("SECRET", "CRM text", "crm-1", "bob@example.com", "carl@"):
        assert secret not in carried
    assert copy.sequence == 2 and copy.uid == "u@invite" and copy.organiser == ORGANISER


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_bundled_language_renders_the_merge_fields(language):
    fields = merge_fields(view(), "Example Ltd")
    text = render(BUNDLED_TEMPLATES, "default", language, fields)
    assert "Ann, ben@client.test" in text and "Review" in text and "Example Ltd" in text
    assert "10:00" in text and "Harbour" in text  # 09:00 UTC in Copenhagen
    assert "{{" not in text and "SECRET" not in text


def test_internal_notes_are_no_merge_field():
    fields = merge_fields(view(), "")
    assert "internal_notes" not in fields and "description" not in fields
    assert "SECRET" not in repr(fields) and "crm-1" not in repr(fields)


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    directory = tmp_path / "t"
    shutil.copytree(BUNDLED_TEMPLATES, directory)
    return directory


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ("{{ internal_notes }}", "internal_notes"),
        ("{{ organiser.secret }}", "secret"),
        ("{{ subject.__class__.__mro__ }}", "template"),
        ("{{ 1 / 0 }}", "template"),
        ("{% for x in externals %}{{ y }}{% endfor %}", "y"),
    ],
)
def test_a_bad_template_is_refused_naming_the_field(templates, source, field):
    (templates / "bad.en.j2").write_text(source)
    with pytest.raises(TemplateProblem) as refused:
        render(templates, "bad", "en", merge_fields(view(), ""))
    assert refused.value.field == field, refused.value


def test_unknown_names_and_languages(templates):
    with pytest.raises(TemplateProblem) as no_name:
        render(templates, "nonesuch", "en", {})
    assert no_name.value.field == "template"
    with pytest.raises(TemplateProblem) as bad_name:
        render(templates, "../etc/passwd", "en", {})
    assert bad_name.value.field == "template"
    with pytest.raises(TemplateProblem) as no_language:
        render(templates, "default", "fi", {})
    assert no_language.value.field == "language"


def test_drift_names_what_differs():
    sent = view().fields()
    later = meeting(start=START + timedelta(hours=2), end=START + timedelta(hours=3))
    assert differences(sent, view().fields()) == []
    moved = differences(sent, view(later).fields())
    assert [d.field for d in moved] == ["time"]
    assert moved[0].sent == {
        "start": "2026-12-03T09:00:00+00:00",
        "end": "2026-12-03T10:00:00+00:00",
    }
    noted = meeting(internal_notes="other", description="other", internal_users=[])
    assert differences(sent, view(noted).fields()) == [], "internal fields are no drift"
    fewer = meeting(external=[Participant("ann@partner.test")], subject="New", location="")
    assert [d.field for d in differences(sent, view(fewer).fields())] == [
        "location",
        "subject",
        "attendees",
    ]


WEEK = timedelta(days=7)


def series(*, exdates=(), overrides=()) -> tuple[Meeting, list[Override]]:
    rec = Recurrence(
        rrule="FREQ=WEEKLY;COUNT=6",
        exdates=list(exdates),
        overrides=[o.recurrence_id for o in overrides],
    )
    return meeting(recurrence=rec), list(overrides)


def moved(weeks: int, hours: int, **texts) -> Override:
    original = START + weeks * WEEK
    new = original + timedelta(hours=hours)
    values = {"subject": "Review (moved)", "location": "Room 2", "description": "CRM SECRET"}
    return Override(original.isoformat(), new, new + timedelta(hours=1), **(values | texts))


def series_view(m: Meeting, overrides: list[Override]):
    return external_view(m, ORGANISER, {"bob@example.com"}, ("example.com",), overrides)


def test_a_series_view_carries_its_moved_occurrences_without_their_crm_text():
    m, overrides = series(exdates=[START + WEEK], overrides=[moved(2, 3)])
    v = series_view(m, overrides)
    assert v.fields()["recurrence"] == ["EXDATE:20261210T090000Z", "RRULE:COUNT=6;FREQ=WEEKLY"]
    assert v.fields()["overrides"] == [
        {
            "recurrence_id": "2026-12-17T09:00:00+00:00",
            "start": "2026-12-17T12:00:00+00:00",
            "end": "2026-12-17T13:00:00+00:00",
            "subject": "Review (moved)",
            "location": "Room 2",
        }
    ]
    copy = invite_copy(v, "Rendered invitation", sequence=0, uid="u@invite")
    event = copy.as_event()
    assert "EXDATE:20261210T090000Z" in event.recurrence
    (override,) = event.overrides
    assert override.description == "Rendered invitation", "never the CRM's own text"
    assert (override.start, override.subject) == (
        START + 2 * WEEK + timedelta(hours=3),
        "Review (moved)",
    )
    assert "SECRET" not in repr(copy)


def test_an_override_on_an_excluded_date_is_not_carried():
    m, overrides = series(exdates=[START + 2 * WEEK], overrides=[moved(2, 3)])
    assert series_view(m, overrides).overrides == ()


def test_a_single_meeting_carries_no_overrides():
    assert view().overrides == () and invite_copy(view(), "x", sequence=0, uid="u").overrides == ()


def test_drift_sees_a_moved_occurrence_and_none_for_a_series_without():
    m, overrides = series(overrides=[moved(2, 3)])
    sent = series_view(m, overrides).fields()
    assert differences(sent, series_view(m, overrides).fields()) == []
    m2, later = series(overrides=[moved(2, 3), moved(3, 24)])
    (diff,) = differences(sent, series_view(m2, later).fields())
    assert diff.field == "occurrences"
    assert [o["recurrence_id"] for o in diff.now["overrides"]] == [
        "2026-12-17T09:00:00+00:00",
        "2026-12-24T09:00:00+00:00",
    ]
    texts_only = [moved(2, 3, description="other CRM text")]
    assert differences(sent, series_view(m, texts_only).fields()) == [], "CRM text is no drift"
    m3, back = series()
    (diff,) = differences(sent, series_view(m3, back).fields())
    assert diff.field == "occurrences" and diff.now == {"overrides": []}


def test_fields_stored_before_overrides_existed_show_no_false_drift():
    plain, _ = series()
    stored = series_view(plain, []).fields()
    assert "overrides" not in stored, "a series without overrides keeps the old stored shape"
    assert differences(stored, series_view(plain, []).fields()) == []
    assert differences(stored, view().fields())[0].field == "time"


USERS = """
[server]
htpasswd = "users.htpasswd"

[[users]]
login = "alice"
email = "alice@example.com"
"""


def write(tmp_path: Path, invite: str) -> Path:
    (tmp_path / "users.htpasswd").write_text("alice:$2b$10$x\n")
    path = tmp_path / "bridge.toml"
    path.write_text(textwrap.dedent(USERS) + "\n[invite]\n" + textwrap.dedent(invite))
    return path


def test_the_invite_table_loads(tmp_path, templates):
    settings = load_config(
        write(tmp_path, 'internal_domains = ["Example.COM"]\ntemplates_dir = "t"\n')
    )
    assert settings.invite.internal_domains == ("example.com",)
    assert settings.invite.templates_dir == templates


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        ('internal_domains = ["not a domain"]\n', "invite.internal_domains[0]", "not a domain"),
        ('internal_domains = "example.com"\n', "invite.internal_domains", "array"),
        ('default_language = "fr"\n', "invite.default_language", "must be one of"),
        ('templates_dir = "missing"\n', "invite.templates_dir", "not a directory"),
        ("colour = 1\n", "invite.colour", "unknown key"),
    ],
)
def test_invite_table_errors_name_file_key_and_reason(tmp_path, body, key, reason):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert refused.value.file == str(path) and refused.value.key == key
    assert reason in refused.value.reason


def test_a_template_that_does_not_compile_is_refused_at_load(tmp_path, templates):
    (templates / "broken.en.j2").write_text("Hello {{ subject ")
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, 'templates_dir = "t"\n'))
    assert refused.value.key == "invite.templates_dir"
    assert "broken.en.j2 line 1" in refused.value.reason
    (templates / "broken.en.j2").unlink()
    (templates / "default.sv.j2").unlink()
    with pytest.raises(ConfigError) as missing:
        load_config(write(tmp_path, 'templates_dir = "t"\n'))
    assert "default.sv.j2" in missing.value.reason


def test_the_bundled_templates_are_the_example_configurations():
    example = Path(__file__).resolve().parents[2] / "config" / "templates"
    bundled = {p.name: p.read_text() for p in BUNDLED_TEMPLATES.glob("*.j2")}
    assert bundled == {p.name: p.read_text() for p in example.glob("*.j2")}
    assert sorted(bundled) == [f"default.{lang}.j2" for lang in sorted(LANGUAGES)]


def test_templates_beside_the_config_file_are_the_default(tmp_path, templates):
    shutil.copytree(templates, tmp_path / "templates")
    assert load_config(write(tmp_path, "")).invite.templates_dir == tmp_path / "templates"
    shutil.rmtree(tmp_path / "templates")
    assert load_config(write(tmp_path, "")).invite.templates_dir == BUNDLED_TEMPLATES


def test_the_cli_preview_prints_the_series_and_its_moved_occurrences(capsys):
    from bridge.backends.base import InviteAbilities
    from bridge.cli_invite import _print_preview
    from bridge.invite import Preview

    m, overrides = series(exdates=[START + WEEK], overrides=[moved(2, 3)])
    v = series_view(m, overrides)
    fields = v.fields()
    preview = Preview(
        "crm-1", "google", "default", "en", v.subject, fields["start"], fields["end"],
        v.all_day, v.timezone, v.location, v.organiser, v.attendees, "Hello\n",
        InviteAbilities(True, True), v.recurrence, tuple(o.fields() for o in v.overrides),
    )  # fmt: skip
    _print_preview(preview)
    out = capsys.readouterr().out
    assert "repeats:   EXDATE:20261210T090000Z" in out
    assert (
        "moved:     2026-12-17T09:00:00+00:00 -> 2026-12-17T12:00:00+00:00 – "
        "2026-12-17T13:00:00+00:00: Review (moved) at Room 2"
    ) in out
    assert "SECRET" not in out
    assert preview.as_json()["occurrences"] == [o.fields() for o in v.overrides]
