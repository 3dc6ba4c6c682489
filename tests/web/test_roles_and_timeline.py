"""Who may sign in to the desk and as what (the platform header trusted only when App Service Authentication is
on; local sign-in only when asked for and never in Azure), the CSRF token, and the call's timeline drawn from
stored evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shared.admin.auth import ADMIN, READER
from shared.web import csrf
from shared.web.roles import DSL, GOVERNOR, LOCAL_COOKIE, NotSignedIn, Viewer, viewer
from shared.web.timeline import build, svg

from .conftest import principal_header

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "elmgrove-week"
LONDON = ZoneInfo("Europe/London")
AZURE_AUTH_ON = {"WEBSITE_SITE_NAME": "vcaudit-elmgrove", "WEBSITE_AUTH_ENABLED": "True"}
AZURE_AUTH_OFF = {"WEBSITE_SITE_NAME": "vcaudit-elmgrove"}


def sample(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return value


def headers(*roles: str) -> dict[str, str]:
    return {"x-ms-client-principal": principal_header("Mrs Okafor", *roles)}


def test_the_principal_is_trusted_only_when_app_service_authentication_is_on() -> None:
    assert viewer(headers(DSL), {}, AZURE_AUTH_ON, local_setting=False) == Viewer("Mrs Okafor", DSL)
    for env in (AZURE_AUTH_OFF, {}, {"WEBSITE_AUTH_ENABLED": "false"}):  # off in Azure, or nothing said locally
        refused = viewer(headers(DSL), {}, env, local_setting=False)
        assert isinstance(refused, NotSignedIn) and refused.status == 403
    missing = viewer({}, {}, AZURE_AUTH_ON, local_setting=False)
    assert isinstance(missing, NotSignedIn) and missing.status == 401


def test_the_strongest_desk_role_counts_and_other_roles_are_refused() -> None:
    assert viewer(headers(GOVERNOR, ADMIN), {}, AZURE_AUTH_ON, local_setting=False) == Viewer("Mrs Okafor", ADMIN)
    governor = viewer(headers(GOVERNOR), {}, AZURE_AUTH_ON, local_setting=False)
    assert isinstance(governor, Viewer) and not governor.sees_names and not governor.decides
    refused = viewer(headers(READER), {}, AZURE_AUTH_ON, local_setting=False)  # the admin API's reader role
    assert isinstance(refused, NotSignedIn) and refused.status == 403


def test_local_sign_in_only_when_asked_for_and_never_in_azure() -> None:
    chosen = {LOCAL_COOKIE: "governor"}
    local = viewer({}, chosen, {}, local_setting=True)
    assert local == Viewer("Local Governor", GOVERNOR, local=True)
    asks = viewer({}, {}, {}, local_setting=True)
    assert isinstance(asks, NotSignedIn) and asks.may_sign_in_locally
    # the platform's header is not trusted locally, even with local sign-in on
    assert viewer(headers(ADMIN), {}, {}, local_setting=True) != Viewer("Mrs Okafor", ADMIN)
    for env in (AZURE_AUTH_ON, AZURE_AUTH_OFF):  # in Azure the setting is ignored: Entra ID or nothing
        in_azure = viewer({}, chosen, env, local_setting=True)
        assert isinstance(in_azure, NotSignedIn) and not in_azure.may_sign_in_locally


def test_the_csrf_token_binds_the_browser_and_the_person() -> None:
    key, nonce = b"k" * 32, csrf.new_nonce()
    token = csrf.token(key, nonce, "Mrs Okafor")
    assert csrf.valid(key, nonce, "Mrs Okafor", token)
    assert not csrf.valid(key, nonce, "Mr Hughes", token)
    assert not csrf.valid(key, csrf.new_nonce(), "Mrs Okafor", token)
    assert not csrf.valid(b"x" * 32, nonce, "Mrs Okafor", token)
    assert not csrf.valid(key, nonce, "Mrs Okafor", None) and not csrf.valid(key, None, "Mrs Okafor", token)
    assert csrf.same_origin(None, "desk.example") and csrf.same_origin("https://desk.example", "desk.example")
    assert not csrf.same_origin("https://evil.example", "desk.example") and not csrf.same_origin("null", "x")


def test_the_timeline_shades_the_unsupervised_stretch() -> None:
    timeline = build(sample("2026-11-17-1600-year6-homework-help"))
    assert timeline is not None and timeline.source
    assert {r.role.value for r in timeline.rows} >= {"pupil"}
    minutes = sum(e - s for s, e in timeline.unsupervised) / 60
    assert 21 <= minutes <= 23  # the finding: "no member of staff present for 22 minutes"
    picture = str(svg(timeline, LONDON))
    assert picture.count('class="tl-unsupervised"') >= len(timeline.unsupervised) >= 1
    assert "16:01" in picture and "style=" not in picture


def test_the_timeline_marks_screen_shares_and_recordings_and_escapes_names() -> None:
    shared = build(sample("2026-11-17-0900-year6-english"))
    assert shared is not None and any(who == "Jack Harper" for who, _ in shared.shares)
    assert 'class="tl-share"' in str(svg(shared, LONDON))
    recorded = build(sample("2026-11-18-1400-year6-sats-revision"))
    assert recorded is not None and recorded.recordings
    assert 'class="tl-recording"' in str(svg(recorded, LONDON))
    bundle = json.loads(json.dumps(sample("2026-11-17-0900-year6-english")).replace(
        "Jack Harper", "<script>alert(1)</script>"))
    drawn = str(svg(build(bundle), LONDON))  # type: ignore[arg-type]
    assert "<script>" not in drawn and "&lt;script&gt;" in drawn
    anonymous = build(sample("2026-11-17-0900-year6-english"), names=False)
    assert anonymous is not None and "Jack Harper" not in str(svg(anonymous, LONDON))


def test_a_broken_bundle_has_no_picture() -> None:
    assert build({"not": "a bundle"}) is None


def test_serving_without_the_demos_data_says_what_to_run(tmp_path: Path) -> None:
    from devtools.serve import start

    try:
        start(tmp_path / "nothing-here")
    except FileNotFoundError as exc:
        assert "run `make demo` first" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("started without the demo's data")
