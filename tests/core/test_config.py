from __future__ import annotations

import pytest
from pydantic import ValidationError

from safezone.cli import main
from safezone.config import Settings


def test_production_refuses_to_start_without_a_secret(monkeypatch):
    monkeypatch.delenv("SAFEZONE_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="SAFEZONE_SECRET_KEY must be set"):
        Settings(env="production")


def test_short_secret_is_refused():
    with pytest.raises(ValidationError, match="secret_key"):
        Settings(env="production", secret_key="short")


def test_unknown_setting_is_refused():
    with pytest.raises(ValidationError, match="extra"):
        Settings(env="test", secret_key="x" * 40, databse_url="sqlite://")  # type: ignore[call-arg]


def test_serve_without_secret_exits_with_a_clear_message(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("SAFEZONE_SECRET_KEY", raising=False)
    monkeypatch.delenv("SAFEZONE_ENV", raising=False)
    code = main(["--data-dir", str(tmp_path), "serve"])
    assert code == 2
    assert "SAFEZONE_SECRET_KEY" in capsys.readouterr().err


def test_default_database_is_sqlite_in_the_data_dir(tmp_path):
    settings = Settings(env="test", secret_key="x" * 40, data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'safezone.db').resolve()}"
