"""`safezone checkpoints posters`: one A4 page per checkpoint, Thai text, a scannable code."""

from __future__ import annotations

import re

from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.cli import main
from safezone.patrol.models import CheckpointKey
from tests.conftest import INSIDE


def _cli(settings, *args: str) -> list[str]:
    return [
        "--data-dir",
        str(settings.data_dir),
        "checkpoints",
        "posters",
        "--station",
        "MDH",
        *args,
    ]


def test_posters_pdf_has_a_page_per_checkpoint(patrol, settings, db, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SAFEZONE_DATABASE_URL", settings.resolved_database_url)
    patrol.add_checkpoint("CP-PIER", INSIDE[0] + 0.001, INSIDE[1])
    out = tmp_path / "posters.pdf"
    assert main(_cli(settings, "--out", str(out))) == 0
    assert "wrote 2 checkpoint posters" in capsys.readouterr().out
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 2
    # The Thai font is embedded (subset) and shaped text uses it.
    assert b"Loma" in pdf
    assert not (tmp_path / "posters.pdf.part").exists()
    with db.reader() as session:
        keys = session.scalars(select(CheckpointKey.checkpoint_id)).all()
        assert sorted(keys) == ["CP-MARKET", "CP-PIER"]
        printed = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "checkpoint.posters_printed")
        ).one()
        assert printed.payload == {"checkpoints": ["CP-MARKET", "CP-PIER"]}


def test_one_checkpoint_and_bad_arguments(patrol, settings, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SAFEZONE_DATABASE_URL", settings.resolved_database_url)
    out = tmp_path / "one.pdf"
    assert main(_cli(settings, "--out", str(out), "--checkpoint", "CP-MARKET")) == 0
    assert "wrote 1 checkpoint posters" in capsys.readouterr().out
    assert main(_cli(settings, "--out", str(tmp_path / "x.pdf"), "--checkpoint", "CP-NOPE")) == 2
    assert "CP-NOPE" in capsys.readouterr().err
    assert not (tmp_path / "x.pdf").exists()
    assert main(_cli(settings, "--out", str(tmp_path / "missing" / "x.pdf"))) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(_cli(settings, "--out", str(tmp_path / "x.png"))) == 2
    assert ".pdf" in capsys.readouterr().err
