"""The SOS box simulator drives the real server and its traffic is judged like a box's."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from safezone.cli import main
from safezone.incidents.models import Incident
from safezone.sos import simulator
from safezone.sos.models import BoxRejection
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
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sum(summary["sent"].values()) >= 5
    assert summary["errors"] == 0


def test_cli_errors_are_clear(tmp_path, capsys):
    missing = tmp_path / "none.json"
    assert main(["simulate", "sos-boxes", "--devices", str(missing)]) == 2
    assert "safezone demo" in capsys.readouterr().err
    devices = tmp_path / "d.json"
    devices.write_text(json.dumps({"sos_boxes": [{"id": "B", "secret": "s" * 20}]}))
    assert main(["simulate", "sos-boxes", "--devices", str(devices), "--count", "5"]) == 2
    assert "only 1 boxes" in capsys.readouterr().err
