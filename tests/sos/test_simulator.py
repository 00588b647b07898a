"""The SOS box simulator drives the real server and its traffic is judged like a box's."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter

from sqlalchemy import func, select

from safezone.cli import main
from safezone.incidents.models import Incident
from safezone.sos import simulator
from safezone.sos.models import BoxRejection
from safezone.sos.service import sign
from tests.sos.conftest import BOX_ID, BOX_SECRET


def test_simulated_traffic_is_accepted_refused_and_counted(live_server, db, sos_site):
    boxes = [simulator.SimBox(BOX_ID, BOX_SECRET)]
    stats = simulator.run(
        boxes,
        rate=200,
        duration_s=0.6,
        send=simulator.http_sender(live_server.url),
        mix=simulator.Mix(press=0.2, cancel_after_press=0.0, test=0.1, forged=0.2),
        seed=7,
    )
    sent = stats.sent
    assert stats.errors == 0
    assert sent["press"] > 0 and sent["forged-press"] + sent["forged-heartbeat"] > 0
    with db.reader() as session:
        incidents = session.scalar(select(func.count()).select_from(Incident))
        forged = session.scalar(
            select(func.count())
            .select_from(BoxRejection)
            .where(BoxRejection.reason == "bad_signature")
        )
    assert incidents == sent["press"]
    forged_sent = sum(n for label, n in sent.items() if label.startswith("forged-"))
    assert forged == forged_sent == stats.answers["bad_signature"]


def test_cli_reads_the_device_file(live_server, sos_site, tmp_path, capsys):
    devices = tmp_path / "devices.json"
    devices.write_text(
        json.dumps({"sos_boxes": [{"id": BOX_ID, "secret": BOX_SECRET, "lat": 0, "lon": 0}]})
    )
    code = main(
        [
            "simulate",
            "sos-boxes",
            "--devices",
            str(devices),
            "--count",
            "1",
            "--rate",
            "40",
            "--duration",
            "0.5",
            "--url",
            live_server.url,
            "--seed",
            "3",
        ]
    )
    assert code == 0
    out = capsys.readouterr()
    summary = json.loads(out.out.strip().splitlines()[-1])
    assert sum(summary["sent"].values()) >= 5
    assert summary["errors"] == 0
    assert "warning" not in out.err


def test_cli_warns_when_the_rate_would_make_boxes_look_offline(live_server, tmp_path, capsys):
    devices = tmp_path / "devices.json"
    boxes = [{"id": f"B{i}", "secret": "s" * 20, "heartbeat_interval_s": 30} for i in range(3)]
    devices.write_text(json.dumps({"sos_boxes": boxes}))
    args = ["simulate", "sos-boxes", "--devices", str(devices), "--count", "3"]
    args += ["--rate", "0.05", "--duration", "0.1", "--url", live_server.url]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "warning: each box would send a heartbeat only every 62 s" in err


def test_cli_errors_are_clear(tmp_path, capsys):
    missing = tmp_path / "none.json"
    assert main(["simulate", "sos-boxes", "--devices", str(missing)]) == 2
    assert "safezone demo" in capsys.readouterr().err
    devices = tmp_path / "d.json"
    devices.write_text(json.dumps({"sos_boxes": [{"id": "B", "secret": "s" * 20}]}))
    assert main(["simulate", "sos-boxes", "--devices", str(devices), "--count", "5"]) == 2
    assert "only 1 boxes" in capsys.readouterr().err


def recording_sender() -> tuple[simulator.Sender, list[tuple[simulator.SimBox, dict[str, object]]]]:
    sent: list[tuple[simulator.SimBox, dict[str, object]]] = []

    def send(box: simulator.SimBox, payload: dict[str, object]) -> str:
        sent.append((box, payload))
        return "recorded"

    return send, sent


BOXES = [simulator.SimBox(f"BOX-{i}", f"secret-of-box-{i}-0123456789") for i in range(4)]


def test_heartbeats_go_to_every_box_in_turn_signed_as_documented():
    send, sent = recording_sender()
    simulator.run(
        BOXES,
        rate=2000,
        duration_s=0.1,
        send=send,
        mix=simulator.Mix(press=0, test=0, forged=0),
        seed=1,
    )
    per_box = Counter(box.id for box, _ in sent)
    assert len(per_box) == 4 and max(per_box.values()) - min(per_box.values()) <= 1
    for box, payload in sent:
        assert payload["type"] == "heartbeat"
        unsigned = {k: v for k, v in payload.items() if k != "sig"}
        body = json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()
        assert payload["sig"] == hmac.new(box.secret.encode(), body, hashlib.sha256).hexdigest()


def test_forged_messages_come_in_every_kind_and_never_verify():
    send, sent = recording_sender()
    stats = simulator.run(
        BOXES, rate=4000, duration_s=0.1, send=send, mix=simulator.Mix(forged=1.0), seed=2
    )
    kinds = set(stats.sent)
    assert {"forged-press", "forged-heartbeat", "forged-test"} <= kinds
    for box, payload in sent:
        assert payload["sig"] != sign(payload, box.secret)


def test_a_rate_too_low_for_the_heartbeat_intervals_is_named():
    many = [simulator.SimBox(f"B{i}", "s" * 20, heartbeat_interval_s=60) for i in range(500)]
    problem = simulator.cadence_problem(many, rate=5)
    assert problem is not None and "at least 8.55" in problem and "--count" in problem
    assert simulator.cadence_problem(many[:12], rate=5) is None
