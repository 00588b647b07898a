"""`safezone import incidents`: every row checked; all written or none unless --skip-bad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from safezone.audit import service as audit_service
from safezone.audit.models import AuditEntry
from safezone.cli import main
from safezone.core.db import Database
from safezone.incidents.models import Incident, IncidentEvent

HEADER = "date,hour,category,premises,neighbourhood,lat,lon"
GOOD = [
    "2019-03-01,22,Assault,Apartment,Downtown,16.5440,104.7280",
    "2019-03-02,3,Break and Enter,House,Riverside,16.5450,104.7290",
]
BAD = [
    "2019-02-30,10,Assault,House,X,16.5440,104.7280",  # no such day
    "2019-03-03,25,Robbery,House,X,16.5440,104.7280",  # hour out of range
    "2019-03-03,10,Arson,House,X,16.5440,104.7280",  # unknown category
    "2019-03-03,10,Assault,House,X,96.5,104.7280",  # latitude out of range
    "2019-03-03,10,Assault,House,X,16.5440,",  # no longitude
]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SAFEZONE_DATABASE_URL", raising=False)
    args = ["--data-dir", str(tmp_path), "station", "create", "--id", "MDH"]
    args += ["--name-th", "มุกดาหาร", "--name-en", "Mukdahan", "--lat", "16.5453"]
    assert main([*args, "--lon", "104.7236"]) == 0
    return tmp_path


def incidents(data_dir: Path) -> list[Incident]:
    db = Database(f"sqlite:///{data_dir / 'safezone.db'}")
    try:
        with db.reader() as session:
            rows = list(session.scalars(select(Incident).order_by(Incident.id)))
            session.expunge_all()
            return rows
    finally:
        db.dispose()


def write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def run(data_dir: Path, *args: str) -> int:
    return main(["--data-dir", str(data_dir), "import", "incidents", *args])


def test_good_file_is_imported_as_closed_history(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "good.csv", GOOD)
    assert run(data_dir, str(path), "--timezone", "Asia/Bangkok") == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["imported"] == 2 and report["rejected"] == []
    rows = incidents(data_dir)
    assert [(r.category, r.status, r.source) for r in rows] == [
        ("assault", "closed", "import"),
        ("burglary", "closed", "import"),
    ]
    # 22:00 in Bangkok is 15:00 UTC.
    assert rows[0].created_at.isoformat().startswith("2019-03-01T15:00")
    assert "Apartment" in rows[0].description
    db = Database(f"sqlite:///{data_dir / 'safezone.db'}")
    with db.reader() as session:
        assert audit_service.verify(session).ok
        actions = list(session.scalars(select(AuditEntry.action)))
        assert "incidents.imported" in actions
    db.dispose()


def test_bad_rows_refused_with_reasons_and_nothing_written(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "mixed.csv", GOOD + BAD)
    assert run(data_dir, str(path)) == 1
    err = capsys.readouterr().err
    assert "line 4: date '2019-02-30'" in err
    assert "line 5: hour 25 is outside 0-23" in err
    assert "line 6: category 'Arson' is not known" in err
    assert "line 7: lat 96.5 is outside -90..90" in err
    assert "line 8: lon '' is not a number" in err
    assert "5 of 7 rows are bad; nothing was imported" in err
    assert incidents(data_dir) == []


def test_skip_bad_imports_the_good_rows_and_lists_the_rest(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "mixed.csv", GOOD + BAD)
    assert run(data_dir, str(path), "--skip-bad") == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["imported"] == 2
    assert [r["where"] for r in report["rejected"]] == [f"line {n}" for n in range(4, 9)]
    assert "rejected line 6: category 'Arson'" in captured.err
    assert len(incidents(data_dir)) == 2


def test_column_mapping_category_map_and_geojson(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = write(
        tmp_path / "other.csv",
        ["2019-05-01T08:30:00+07:00,Snatch,16.5441,104.7281"],
        header="when,type,y,x",
    )
    assert run(data_dir, str(csv_path), "--columns", "date=when,category=type,lat=y,lon=x") == 1
    assert "category 'Snatch' is not known" in capsys.readouterr().err
    mapped = ["--columns", "date=when,category=type,lat=y,lon=x", "--category-map", "Snatch=theft"]
    assert run(data_dir, str(csv_path), *mapped) == 0
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [104.7282, 16.5442]},
                "properties": {"date": "2019-05-02", "hour": 9, "category": "robbery"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
                "properties": {"date": "2019-05-02", "category": "robbery"},
            },
        ],
    }
    gj = tmp_path / "incidents.geojson"
    gj.write_text(json.dumps(geojson), encoding="utf-8")
    assert run(data_dir, str(gj)) == 1
    assert "feature 2: geometry must be a GeoJSON Point" in capsys.readouterr().err
    assert run(data_dir, str(gj), "--skip-bad") == 0
    assert [r.category for r in incidents(data_dir)] == ["theft", "robbery"]


def test_file_level_problems_are_clear(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_lat = write(tmp_path / "nolat.csv", ["2019-01-01,Assault,104.7"], header="date,category,lon")
    assert run(data_dir, str(no_lat)) == 2
    assert "missing lat (column 'lat')" in capsys.readouterr().err
    assert run(data_dir, str(tmp_path / "absent.csv")) == 2
    assert "no such file" in capsys.readouterr().err
    good = write(tmp_path / "good.csv", GOOD)
    assert run(data_dir, str(good), "--timezone", "Mars/Olympus") == 2
    assert "not a known time zone" in capsys.readouterr().err
    assert run(data_dir, str(good), "--category-map", "Assault=punching") == 2
    assert "not a SafeZone category" in capsys.readouterr().err
    future = write(tmp_path / "future.csv", ["2999-01-01,1,Assault,H,X,16.5,104.7"])
    assert run(data_dir, str(future)) == 1
    assert "in the future" in capsys.readouterr().err
    assert incidents(data_dir) == []
    db = Database(f"sqlite:///{data_dir / 'safezone.db'}")
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(IncidentEvent)) == 0
    db.dispose()
