"""House-watch (ฝากบ้าน): request, approval as a temporary checkpoint on the plans, visit
notices, cancellation, the end-of-watch summary, and who may see what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.core.bus.outbox import OutboxEvent
from safezone.core.scheduler import Scheduler
from safezone.housewatch import service as housewatch_service
from safezone.housewatch.channels import Channel, InAppChannel, WebhookChannel
from safezone.housewatch.models import HouseWatchRequest
from safezone.patrol.models import PlanCheckpoint
from safezone.zones import service as zones_service
from tests.conftest import count_own_writes
from tests.housewatch.conftest import HOUSE, V1


def actions(db, prefix: str) -> list[str]:
    with db.reader() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.startswith(prefix))
                .order_by(AuditEntry.seq)
            )
        )


def test_citizen_asks_and_the_station_of_the_house_gets_it(hw, db):
    req = hw.request()
    assert req["status"] == "pending" and req["station_id"] == "MDH"
    assert req["contact_kind"] == "phone" and req["contact_value"] == "+66 81 234 5678"
    assert req["checkpoint_id"] is None
    assert actions(db, "housewatch.") == ["housewatch.requested"]
    with db.reader() as session:
        event = session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == "housewatch.requested")
        ).one()
        assert event.payload["request"]["id"] == req["id"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_on": "__before_start__"}, "ends_on"),
        ({"starts_on": "__yesterday__"}, "starts_on"),
        ({"ends_on": "__far__"}, "ends_on"),
        ({"contact": {"kind": "phone", "value": "call me"}}, "contact.value"),
        ({"contact": {"kind": "email", "value": "somchai@"}}, "contact.value"),
        ({"contact": {"kind": "app", "value": "x"}}, "contact.value"),
        ({"contact": {"kind": "pigeon", "value": "x"}}, "contact.kind"),
        ({"address": "x"}, "address"),
        ({"lat": 95}, "lat"),
        ({"owner_user_id": 1}, "owner_user_id"),
    ],
)
def test_bad_requests_name_the_field_and_store_nothing(hw, db, changes, field):
    today = hw.today
    special = {
        "__before_start__": today.isoformat(),
        "__yesterday__": (today - timedelta(days=1)).isoformat(),
        "__far__": (today + timedelta(days=90)).isoformat(),
    }
    changes = {k: special.get(v, v) if isinstance(v, str) else v for k, v in changes.items()}
    if changes.get("ends_on") == today.isoformat():
        changes["starts_on"] = (today + timedelta(days=1)).isoformat()
    r = hw.client.post(
        f"{V1}/housewatch/requests", headers=hw.auth("citizen"), json=hw.body(**changes)
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    with db.reader() as session:
        assert session.scalars(select(HouseWatchRequest)).all() == []


def test_a_citizen_has_at_most_three_open_requests(hw):
    for _ in range(3):
        hw.request()
    r = hw.client.post(f"{V1}/housewatch/requests", headers=hw.auth("citizen"), json=hw.body())
    assert r.status_code == 409


def test_owners_see_only_their_own_and_staff_only_their_station(hw, neighbour):
    mine = hw.request()
    theirs = hw.request(user=neighbour)
    listed = hw.client.get(f"{V1}/housewatch/requests", headers=hw.auth("citizen")).json()
    assert [r["id"] for r in listed] == [mine["id"]]
    for path in (f"{mine['id']}", f"{mine['id']}/qr.svg"):
        r = hw.client.get(f"{V1}/housewatch/requests/{path}", headers=hw.auth(neighbour))
        assert r.status_code == 404, path
    r = hw.client.post(f"{V1}/housewatch/requests/{mine['id']}/cancel", headers=hw.auth(neighbour))
    assert r.status_code == 404
    staff = hw.client.get(f"{V1}/housewatch/requests", headers=hw.auth("operator")).json()
    assert sorted(r["id"] for r in staff) == sorted([mine["id"], theirs["id"]])
    assert (
        hw.client.get(f"{V1}/housewatch/requests", headers=hw.auth("other_operator")).json() == []
    )
    r = hw.client.get(f"{V1}/housewatch/requests/{mine['id']}", headers=hw.auth("other_operator"))
    assert r.status_code == 404
    assert hw.approve(mine["id"], user="other_operator").status_code == 404


def test_approval_makes_the_house_a_temporary_checkpoint_on_the_plans(hw, db):
    plan = hw.day_plan()
    req = hw.request()
    r = hw.approve(req["id"], target_visits=3, radius_m=40, note="ok")
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["status"] == "approved" and approved["decided_by"] == "user:operator"
    checkpoint_id = approved["checkpoint_id"]
    assert checkpoint_id == f"HW-{req['id']}"
    with db.reader() as session:
        cp = zones_service.find_asset(
            session, kind=zones_service.KINDS["checkpoint"], asset_id=checkpoint_id
        )
        assert cp is not None and cp.active and cp.radius_m == 40
        assert (cp.lat, cp.lon) == HOUSE
    stops = hw.client.get(f"{V1}/patrol/plans/{plan['id']}", headers=hw.auth("officer")).json()
    house = stops["checkpoints"][-1]
    assert house["checkpoint_id"] == checkpoint_id and house["target_visits"] == 3
    assert house["valid_from"] == req["starts_on"] and house["valid_to"] == req["ends_on"]
    assert house["housewatch_request_id"] == req["id"]
    # Today's compliance report lists the house; a day after the watch it does not.
    report = hw.client.get(
        f"{V1}/patrol/plans/{plan['id']}/compliance", headers=hw.auth("commander")
    ).json()
    assert [c["checkpoint_id"] for c in report["checkpoints"]] == ["CP-MARKET", checkpoint_id]
    later = (hw.today + timedelta(days=3)).isoformat()
    report = hw.client.get(
        f"{V1}/patrol/plans/{plan['id']}/compliance",
        params={"date": later},
        headers=hw.auth("commander"),
    ).json()
    assert [c["checkpoint_id"] for c in report["checkpoints"]] == ["CP-MARKET"]
    # The owner is told, in the app.
    notices = hw.detail(req["id"])["notices"]
    assert [n["kind"] for n in notices] == ["approved"]
    assert notices[0]["title_th"] == "รับฝากบ้านแล้ว"
    assert actions(db, "housewatch.") == ["housewatch.requested", "housewatch.approved"]
    assert "patrol_plan.stop_added" in actions(db, "patrol_plan.")
    # Houses under watch today, for the officers.
    active = hw.client.get(f"{V1}/housewatch/active", headers=hw.auth("officer")).json()
    assert [a["id"] for a in active] == [req["id"]]
    # Replacing the plan's own route keeps the house on it.
    r = hw.client.patch(
        f"{V1}/patrol/plans/{plan['id']}",
        headers=hw.auth("commander"),
        json={"checkpoints": [{"checkpoint_id": "CP-MARKET", "target_visits": 1}]},
    )
    assert [s["checkpoint_id"] for s in r.json()["checkpoints"]] == ["CP-MARKET", checkpoint_id]


def test_approval_rules(hw, db):
    plan = hw.day_plan()
    req = hw.request()
    hw.client.patch(
        f"{V1}/patrol/plans/{plan['id']}", headers=hw.auth("commander"), json={"active": False}
    )
    inactive = hw.approve(req["id"], plan_ids=[plan["id"]])
    assert inactive.status_code == 409 and inactive.json()["error"]["field"] == "plan_ids"
    missing = hw.approve(req["id"], plan_ids=[999])
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "plan_ids"
    assert hw.approve(req["id"], target_visits=0).json()["error"]["field"] == "target_visits"
    with db.reader() as session:
        # A refused approval left nothing behind.
        assert (
            session.scalars(
                select(PlanCheckpoint).where(PlanCheckpoint.housewatch_request_id.is_not(None))
            ).all()
            == []
        )
        assert (
            zones_service.find_asset(
                session, kind=zones_service.KINDS["checkpoint"], asset_id=f"HW-{req['id']}"
            )
            is None
        )
    assert hw.approve(req["id"]).status_code == 200
    again = hw.approve(req["id"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"


def test_decline_needs_a_reason_and_tells_the_owner(hw, db):
    req = hw.request()
    url = f"{V1}/housewatch/requests/{req['id']}/decline"
    r = hw.client.post(url, headers=hw.auth("commander"), json={})
    assert r.status_code == 422 and r.json()["error"]["field"] == "note"
    r = hw.client.post(url, headers=hw.auth("commander"), json={"note": "นอกเขตรับผิดชอบ"})
    assert r.status_code == 200 and r.json()["status"] == "declined"
    notices = hw.detail(req["id"])["notices"]
    assert [n["kind"] for n in notices] == ["declined"]
    assert "นอกเขตรับผิดชอบ" in notices[0]["text_th"]
    assert hw.approve(req["id"]).status_code == 409
    assert actions(db, "housewatch.")[-1] == "housewatch.declined"


def test_every_counted_scan_at_the_house_is_told_to_the_owner_once(hw, officer, db):
    req = hw.request()
    checkpoint_id = hw.approve(req["id"]).json()["checkpoint_id"]
    code = officer.printed(checkpoint_id)
    far = (HOUSE[0] + 0.002, HOUSE[1])
    assert officer.check_in(code, at=far).json()["status"] == "rejected"
    assert officer.check_in(code, at=HOUSE).json()["status"] == "accepted"
    assert hw.notify() == 1
    assert hw.notify() == 0
    detail = hw.detail(req["id"])
    assert [n["kind"] for n in detail["notices"]] == ["approved", "visit"]
    visit = detail["notices"][1]
    assert visit["title_en"] == "A patrol visited your house" and visit["checkin_id"] is not None
    assert [v["status"] for v in detail["visits"]] == ["accepted"]
    # The owner sees when, not who.
    assert set(detail["visits"][0]) == {"checkin_id", "scanned_at", "status"}


def test_the_house_code_is_for_the_owner_and_the_control_room(hw, db):
    req = hw.request()
    url = f"{V1}/housewatch/requests/{req['id']}/qr.svg"
    assert hw.client.get(url, headers=hw.auth("citizen")).status_code == 409
    hw.approve(req["id"])
    for user in ("citizen", "operator"):
        r = hw.client.get(url, headers=hw.auth(user))
        assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
        assert b"<svg" in r.content
    assert actions(db, "housewatch.qr_issued") == ["housewatch.qr_issued"] * 2


def test_cancelling_ends_the_watch_and_voids_the_house_code(hw, officer, db):
    plan = hw.day_plan()
    req = hw.request()
    checkpoint_id = hw.approve(req["id"]).json()["checkpoint_id"]
    code = officer.printed(checkpoint_id)
    r = hw.client.post(f"{V1}/housewatch/requests/{req['id']}/cancel", headers=hw.auth("citizen"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    body = officer.check_in(code, at=HOUSE).json()
    assert body["status"] == "rejected" and "code_expired" in body["reasons"]
    stops = hw.client.get(f"{V1}/patrol/plans/{plan['id']}", headers=hw.auth("commander")).json()
    assert [s["checkpoint_id"] for s in stops["checkpoints"]] == ["CP-MARKET"]
    again = hw.client.post(
        f"{V1}/housewatch/requests/{req['id']}/cancel", headers=hw.auth("citizen")
    )
    assert again.status_code == 409
    assert actions(db, "housewatch.")[-1] == "housewatch.cancelled"


def test_summary_after_the_last_day_closes_the_watch(hw, officer, db, settings):
    req = hw.request()
    checkpoint_id = hw.approve(req["id"]).json()["checkpoint_id"]
    assert officer.check_in(officer.printed(checkpoint_id), at=HOUSE).json()["status"] == "accepted"
    channels = housewatch_service.channels_for(settings)
    with db.transaction() as session:
        on_last_day = housewatch_service.send_summaries(
            session, channels=channels, timezone="Asia/Bangkok", today=hw.today + timedelta(days=2)
        )
    assert on_last_day == []
    with db.transaction() as session:
        done = housewatch_service.send_summaries(
            session, channels=channels, timezone="Asia/Bangkok", today=hw.today + timedelta(days=3)
        )
    assert done == [req["id"]]
    detail = hw.detail(req["id"])
    assert detail["status"] == "completed" and detail["closed_at"] is not None
    # The last visit is told before the summary.
    assert [n["kind"] for n in detail["notices"]] == ["approved", "visit", "summary"]
    summary = detail["notices"][-1]
    assert summary["data"]["visits"] == 1 and summary["data"]["days"] == 3
    assert summary["data"]["days_visited"] == 1
    assert summary["data"]["per_day"][hw.today.isoformat()] == 1
    assert "รวม 1 ครั้ง" in summary["text_th"]
    # Thai readers get Buddhist-era years.
    assert f"/{hw.today.year + 543}" in summary["text_th"]
    with db.reader() as session:
        cp = zones_service.find_asset(
            session, kind=zones_service.KINDS["checkpoint"], asset_id=checkpoint_id
        )
        assert cp is not None and not cp.active
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "housewatch.completed")
        ).one()
        assert entry.actor == "system:housewatch" and entry.payload["summary"]["visits"] == 1
    with db.transaction() as session:
        assert (
            housewatch_service.send_summaries(
                session,
                channels=channels,
                timezone="Asia/Bangkok",
                today=hw.today + timedelta(days=4),
            )
            == []
        )


def test_the_jobs_run_under_the_scheduler(app, hw, officer, db):
    names = {job.name: job for job in app.state.scheduler.jobs}
    assert {"housewatch.visits", "housewatch.summaries"} <= set(names)
    req = hw.request()
    checkpoint_id = hw.approve(req["id"]).json()["checkpoint_id"]
    officer.check_in(officer.printed(checkpoint_id), at=HOUSE)
    assert Scheduler(db).run_once(names["housewatch.visits"])
    assert [n["kind"] for n in hw.detail(req["id"])["notices"]] == ["approved", "visit"]


def test_channels():
    in_app: Channel = InAppChannel()
    webhook: Channel = WebhookChannel()
    assert (in_app.name, webhook.name) == ("app", "webhook")


def test_scans_before_the_dates_are_not_visits_of_the_watch(hw, officer):
    tomorrow = hw.today + timedelta(days=1)
    req = hw.request(starts_on=tomorrow.isoformat(), ends_on=tomorrow.isoformat())
    checkpoint_id = hw.approve(req["id"]).json()["checkpoint_id"]
    assert officer.check_in(officer.printed(checkpoint_id), at=HOUSE).json()["status"] == "accepted"
    assert hw.notify() == 0
    detail = hw.detail(req["id"])
    assert detail["visits"] == [] and [n["kind"] for n in detail["notices"]] == ["approved"]


def test_officers_see_where_and_when_but_not_the_owners_contact(hw, db):
    """A list of empty houses is sensitive enough: the owner's phone and account are for
    the owner and the control room, and the permanent audit chain keeps only a digest."""
    req = hw.request()
    assert hw.approve(req["id"]).status_code == 200
    for path in ("requests", "active", f"requests/{req['id']}"):
        r = hw.client.get(f"{V1}/housewatch/{path}", headers=hw.auth("officer"))
        assert r.status_code == 200, (path, r.text)
        seen = r.json() if isinstance(r.json(), list) else [r.json()]
        assert [s["id"] for s in seen] == [req["id"]], path
        assert (seen[0]["contact_value"], seen[0]["owner_user_id"]) == (None, None), path
        assert seen[0]["address"] == req["address"]
    desk = hw.client.get(f"{V1}/housewatch/requests", headers=hw.auth("operator")).json()
    assert desk[0]["contact_value"] == "+66 81 234 5678"
    with db.reader() as session:
        payloads = session.scalars(
            select(AuditEntry.payload).where(AuditEntry.action.startswith("housewatch."))
        ).all()
    assert payloads and all("+66 81 234 5678" not in str(p) for p in payloads)
    assert all(len(p["contact_sha256"]) == 64 for p in payloads if "contact_kind" in p)


@pytest.mark.parametrize(("first", "second"), [("approve", "decline"), ("decline", "approve")])
def test_a_request_is_decided_once(hw, db, first, second):
    """Two operators deciding at the same moment: the second gets a 409 naming what the
    first decided, and nothing of the second decision is stored."""
    req = hw.request()
    url = f"{V1}/housewatch/requests/{req['id']}"
    body = {"note": "นอกเขตรับผิดชอบ"} if first == "decline" else {}
    assert (
        hw.client.post(f"{url}/{first}", headers=hw.auth("operator"), json=body).status_code == 200
    )
    decided = "approved" if first == "approve" else "declined"
    body = {"note": "ซ้ำ"} if second == "decline" else {}
    r = hw.client.post(f"{url}/{second}", headers=hw.auth("commander"), json=body)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_transition" and error["field"] == "status"
    assert f"already {decided}" in error["message"]
    assert error["details"] == [{"status": decided, "decided_by": "user:operator"}]
    assert actions(db, "housewatch.") == ["housewatch.requested", f"housewatch.{decided}"]
    assert [n["kind"] for n in hw.detail(req["id"])["notices"]] == [decided]


@pytest.mark.parametrize("decision", ["approve", "decline", "cancel"])
def test_a_decision_locks_the_request_row(hw, decision):
    """On PostgreSQL two decisions at once must queue on the row (SELECT ... FOR UPDATE),
    or both would see 'pending' (an owner's cancel racing an approval would overwrite it
    and leave the house code active). SQLite ignores the clause, so look at the
    statement."""
    from sqlalchemy import event
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.orm import Session

    req = hw.request()
    locked: list[str] = []

    def watch(state):
        if state.is_select:
            sql = str(state.statement.compile(dialect=postgresql.dialect()))
            if "FROM housewatch_requests" in sql and "FOR UPDATE" in sql:
                locked.append(sql)

    event.listen(Session, "do_orm_execute", watch)
    try:
        body = {"note": "ไม่สะดวก"} if decision == "decline" else {}
        r = hw.client.post(
            f"{V1}/housewatch/requests/{req['id']}/{decision}",
            headers=hw.auth("citizen" if decision == "cancel" else "operator"),
            json=body,
        )
    finally:
        event.remove(Session, "do_orm_execute", watch)
    assert r.status_code == 200, r.text
    assert locked, "the request was not read FOR UPDATE"


def test_the_visit_job_only_reads_when_there_is_nothing_to_tell(app, hw, officer, db, monkeypatch):
    """Every 5 s on every node: a round without a new scan must not queue on the write lock
    (SQLite has one writer, an SOS may be waiting). It reads, and writes only for news."""
    from safezone.core.scheduler import JobLease

    job = {j.name: j for j in app.state.scheduler.jobs}["housewatch.visits"]
    scheduler = Scheduler(db)
    writes = count_own_writes(db, monkeypatch)
    told: list[int] = []
    notify = housewatch_service.notify_visits

    def notify_spy(session, **kwargs):
        told.append(notify(session, **kwargs))
        return told[-1]

    monkeypatch.setattr(housewatch_service, "notify_visits", notify_spy)

    def run() -> bool:
        writes.clear()
        return scheduler.run_once(job)

    def lease_taken() -> bool:
        with db.reader() as session:
            return session.get(JobLease, "housewatch.visits") is not None

    assert run() is False and writes == [] and told == []  # no watches at all
    req = hw.request()
    checkpoint_id = hw.approve(req["id"]).json()["checkpoint_id"]
    assert run() is False and writes == [] and told == []  # a watch, no scan yet
    assert not lease_taken()
    officer.check_in(officer.printed(checkpoint_id), at=HOUSE)
    assert run() is True and len(writes) == 1 and told == [1]
    assert lease_taken()
    assert run() is False and writes == [] and told == [1]  # told once; nothing new
    assert [n["kind"] for n in hw.detail(req["id"])["notices"]] == ["approved", "visit"]
