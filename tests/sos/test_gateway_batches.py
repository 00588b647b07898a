"""How the MQTT gateway sorts and stores what arrives (without a broker)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from sqlalchemy import func, select

from safezone.audit.service import verify
from safezone.sos import service as sos_service
from safezone.sos.gateway import MqttGateway, _is_routine
from safezone.sos.models import BoxEvent, BoxRejection, BoxStatus
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service
from tests.sos.conftest import BOX_ID, box_message


def mqtt_message(topic: str, payload: dict | bytes) -> mqtt.MQTTMessage:
    message = mqtt.MQTTMessage(topic=topic.encode())
    message.payload = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return message


def test_only_a_heartbeat_takes_the_routine_queue():
    topic = f"safezone/sos/{BOX_ID}/event"
    assert _is_routine(mqtt_message(topic, box_message("heartbeat", 1)))
    # A press stays urgent even if its text mentions heartbeats.
    assert not _is_routine(mqtt_message(topic, box_message("press", 2, note="heartbeat")))
    assert not _is_routine(mqtt_message(topic, b'{"type": "heartbeat", '))  # not JSON
    assert not _is_routine(mqtt_message(topic, b'["heartbeat"]'))
    assert not _is_routine(mqtt_message(f"safezone/sos/{BOX_ID}/status", b"heartbeat"))


def handle_batch(db, bodies: list[dict]) -> list[sos_service.BoxResult]:
    with db.transaction() as session, sos_service.preloaded(session, box_ids={BOX_ID}):
        return [
            sos_service.handle_box_message(
                session, box_id=BOX_ID, body=json.dumps(b), transport="mqtt", tolerance_s=300
            )
            for b in bodies
        ]


def test_a_batch_of_heartbeats_keeps_the_newest_and_refuses_the_forged_one(db, sos_site):
    bodies = [box_message("heartbeat", seq) for seq in range(1, 6)]
    bodies.insert(3, box_message("heartbeat", 99, secret="attacker-secret-000000"))
    results = handle_batch(db, bodies)

    assert [r.status for r in results] == ["accepted"] * 3 + ["rejected"] + ["accepted"] * 2
    assert results[3].reason == "bad_signature"
    with db.reader() as session:
        status = session.get(BoxStatus, BOX_ID)
        assert status is not None and status.online and status.last_heartbeat_seq == 5
        rejections = session.scalar(
            select(func.count()).select_from(BoxRejection).where(BoxRejection.box_id == BOX_ID)
        )
        assert rejections == 1
        assert verify(session).ok


def test_a_heartbeat_repeated_in_a_later_batch_is_a_harmless_duplicate(db, sos_site):
    handle_batch(db, [box_message("heartbeat", 7)])
    [again] = handle_batch(db, [box_message("heartbeat", 7)])
    assert again.status == "duplicate"


def gateway_on(db) -> MqttGateway:
    """A gateway on ``db`` that is never connected (acknowledgements go nowhere)."""
    gateway = MqttGateway(db, url="mqtt://127.0.0.1:1883", client_id="t-batches", tolerance_s=300)
    gateway.client.ack = lambda mid, qos: None  # type: ignore[method-assign]
    return gateway


def test_a_window_of_heartbeats_is_stored_as_each_boxs_newest_in_one_go(db, sos_site):
    """A second's heartbeats become one status update per box; a forged one among them
    is still refused, counted and audited."""
    topic = f"safezone/sos/{BOX_ID}/event"
    beats = [mqtt_message(topic, box_message("heartbeat", seq)) for seq in (3, 5, 4)]
    forged = mqtt_message(topic, box_message("heartbeat", 9, secret="attacker-secret-000000"))
    gateway = gateway_on(db)

    kept = gateway._prepare([*beats, forged])
    assert [item.heartbeat_seq for item in kept] == [5, None]  # the newest, then the refusal
    gateway._store([*beats, forged], urgent=False)

    with db.reader() as session:
        status = session.get(BoxStatus, BOX_ID)
        assert status is not None and status.online and status.last_heartbeat_seq == 5
        assert session.scalar(select(func.count()).select_from(BoxRejection)) == 1
        assert verify(session).ok
    assert gateway.processed == 4


def test_newest_heartbeats_keeps_everything_that_is_not_an_older_heartbeat(db, sos_site):
    topic = f"safezone/sos/{BOX_ID}/event"
    press = mqtt_message(topic, box_message("press", 10))
    gateway = gateway_on(db)
    items = gateway._prepare(
        [
            mqtt_message(topic, box_message("heartbeat", 1)),
            press,
            mqtt_message(topic, box_message("heartbeat", 2)),
            mqtt_message(topic, box_message("heartbeat", 2)),  # the same one again
        ]
    )
    assert [i.message for i in items][0] is press
    assert [i.heartbeat_seq for i in items] == [None, 2]


def test_heartbeats_step_aside_while_a_press_is_being_stored(db, sos_site, monkeypatch):
    """Checking a second's heartbeats pauses between chunks while an urgent message waits
    or is being stored, so the press has the gateway's interpreter to itself."""
    monkeypatch.setattr("safezone.sos.gateway.ROUTINE_CHUNK", 5)
    topic = f"safezone/sos/{BOX_ID}/event"
    beats = [mqtt_message(topic, box_message("heartbeat", seq)) for seq in range(1, 21)]
    gateway = gateway_on(db)
    press = mqtt_message(topic, box_message("press", 100))
    gateway._on_message(gateway.client, None, press)  # queued, not yet stored
    done: list[list] = []
    checking = threading.Thread(target=lambda: done.append(gateway._prepare(beats, urgent=False)))
    checking.start()
    checking.join(0.3)
    assert not done, "the heartbeats did not wait for the press"

    gateway._store(gateway._next_batch(True), urgent=True)  # what the urgent worker does
    gateway._idle_unless_urgent_waits()
    checking.join(5)
    assert done and [item.heartbeat_seq for item in done[0]] == [20]


def test_a_press_stops_a_chunk_of_heartbeats_at_its_next_message(db, sos_site, monkeypatch):
    """A press that arrives while a chunk of heartbeats is being checked does not wait
    for the rest of the chunk: checking stops at the next heartbeat, and the chunk is
    finished once the press is stored."""
    topic = f"safezone/sos/{BOX_ID}/event"
    beats = [mqtt_message(topic, box_message("heartbeat", seq)) for seq in range(1, 21)]
    gateway = gateway_on(db)
    press = mqtt_message(topic, box_message("press", 100))
    real_check = sos_service.check
    checked: list[int] = []
    pressed = threading.Event()

    def check_while_a_press_arrives(box, **kwargs):
        result = real_check(box, **kwargs)
        checked.append(result.seq)
        if len(checked) == 3:
            gateway._on_message(gateway.client, None, press)
            pressed.set()
        return result

    monkeypatch.setattr(sos_service, "check", check_while_a_press_arrives)
    done: list[list] = []
    checking = threading.Thread(target=lambda: done.append(gateway._prepare(beats, urgent=False)))
    checking.start()
    assert pressed.wait(10)
    checking.join(0.3)
    assert not done and checked == [1, 2, 3], "the chunk went on while a press waited"

    gateway._store(gateway._next_batch(True), urgent=True)  # what the urgent worker does
    gateway._idle_unless_urgent_waits()
    checking.join(5)
    assert done and [item.heartbeat_seq for item in done[0]] == [20]
    assert checked[:3] == [1, 2, 3] and sorted(checked[3:]) == [*range(4, 21), 100]


def test_a_heartbeat_transaction_in_progress_gives_way_to_a_press(db, sos_site, monkeypatch):
    """A press that arrives while a window of heartbeats is being written does not wait
    for that transaction: it is rolled back, the press is stored, and the heartbeats are
    written again after it."""
    topic = f"safezone/sos/{BOX_ID}/event"
    gateway = gateway_on(db)
    window = gateway._prepare(
        [mqtt_message(topic, box_message("heartbeat", seq)) for seq in (1, 2)], urgent=False
    )
    press = mqtt_message(topic, box_message("press", 50))
    seen_by_press: list[int | None] = []

    def store_the_press() -> None:
        gateway._store(gateway._next_batch(True), urgent=True)  # the urgent worker's part
        with db.reader() as session:
            status = session.get(BoxStatus, BOX_ID)
            seen_by_press.append(status.last_heartbeat_seq if status is not None else None)
        gateway._idle_unless_urgent_waits()

    real_store = sos_service.store
    pressing: list[threading.Thread] = []

    def store_while_a_press_arrives(session, prepared, **kwargs):
        result = real_store(session, prepared, **kwargs)
        if not pressing:  # the press arrives in the middle of the heartbeats' transaction
            gateway._on_message(gateway.client, None, press)
            pressing.append(threading.Thread(target=store_the_press))
            pressing[0].start()
        return result

    monkeypatch.setattr(sos_service, "store", store_while_a_press_arrives)
    gateway._store_routine(window)
    pressing[0].join(10)

    assert gateway.gave_way == 1
    assert seen_by_press == [None]  # stored while the heartbeats were rolled back
    with db.reader() as session:
        status = session.get(BoxStatus, BOX_ID)
        assert status is not None and status.online and status.last_heartbeat_seq == 2
        [event] = session.scalars(select(BoxEvent).where(BoxEvent.seq == 50)).all()
        assert event.incident_id is not None
        assert verify(session).ok


def change_box(db, **changes) -> None:
    """What an admin does in the registry (switch the box off, give it a new secret)."""
    with db.transaction() as session:
        zones_service.update_asset(
            session,
            kind=zones_service.KINDS["sos_box"],
            station_id="MDH",
            asset_id=BOX_ID,
            data=zone_schemas.SosBoxUpdate(**changes),
            actor="test",
        )


def test_a_box_deactivated_between_the_checks_and_the_write_is_refused(db, sos_site):
    """The checks run before the write lock; the box is read again inside the write
    transaction, so a box switched off meanwhile (stolen, compromised) makes no incident."""
    with db.reader() as session:
        prepared = sos_service.prepare(
            session, [(BOX_ID, json.dumps(box_message("press", 50)))], tolerance_s=300
        )
    assert prepared[0].checked.message is not None  # it looked fine a moment ago
    change_box(db, active=False)
    with db.transaction() as session:
        [result] = sos_service.store(session, prepared, transport="mqtt")
    assert result.status == "rejected" and result.reason == "unknown_box"
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(BoxEvent)) == 0


def test_a_message_signed_with_a_secret_rotated_meanwhile_is_checked_again(db, sos_site):
    new_secret = "rotated-secret-for-tests-987654321"
    body = json.dumps(box_message("press", 51, secret=new_secret))
    with db.reader() as session:
        [prepared] = sos_service.prepare(session, [(BOX_ID, body)], tolerance_s=300)
    assert prepared.checked.reason == "bad_signature"  # before the rotation reached the box
    change_box(db, secret=new_secret)
    with db.transaction() as session:
        [result] = sos_service.store(session, [prepared], transport="mqtt")
    assert result.status == "accepted" and result.incident_id is not None


def test_a_heartbeat_that_arrived_before_the_last_will_does_not_bring_the_box_back(db, sos_site):
    """Heartbeats wait up to a second to be stored; a last will is stored at once. The
    older heartbeat, stored after it, must not mark the box online again."""
    handle_batch(db, [box_message("heartbeat", 1)])  # online
    arrived = datetime.now(UTC)
    with db.reader() as session:
        [beat] = sos_service.prepare(
            session,
            [(BOX_ID, json.dumps(box_message("heartbeat", 2)))],
            tolerance_s=300,
            arrived=[arrived],
        )
    with db.transaction() as session:
        assert sos_service.handle_box_status(session, box_id=BOX_ID, payload=b"offline")
    with db.transaction() as session:
        [result] = sos_service.store(session, [beat], transport="mqtt")
    assert result.status == "accepted"
    with db.reader() as session:
        status = session.get(BoxStatus, BOX_ID)
        assert status is not None and not status.online and status.last_heartbeat_seq == 2
