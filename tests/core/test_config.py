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


HOOK = "https://bridge.example/housewatch"


@pytest.fixture
def no_webhook_env(monkeypatch):
    for name in (
        "SAFEZONE_WEBHOOK_SECRET",
        "SAFEZONE_HOUSEWATCH_WEBHOOK_URL",
        "SAFEZONE_ESCALATION_WEBHOOK_URL",
        "SAFEZONE_ENV",
    ):
        monkeypatch.delenv(name, raising=False)


WEBHOOKS = ["housewatch_webhook_url", "escalation_webhook_url"]


@pytest.mark.parametrize("hook", WEBHOOKS)
def test_production_refuses_a_webhook_without_a_signing_secret(no_webhook_env, hook):
    """House-watch notices carry the owner's contact and an empty house's address,
    escalations an SOS's place: unsigned, a receiver cannot tell our POSTs from anyone's."""
    with pytest.raises(ValidationError, match=f"when SAFEZONE_{hook.upper()} is set"):
        Settings(env="production", secret_key="x" * 40, **{hook: HOOK})
    signed = Settings(
        env="production", secret_key="x" * 40, webhook_secret="s" * 16, **{hook: HOOK}
    )
    assert getattr(signed, hook) == HOOK
    assert getattr(Settings(env="production", secret_key="x" * 40), hook) is None
    # The demo may post unsigned notices to a test bridge.
    Settings(env="demo", **{hook: HOOK})


@pytest.mark.parametrize("hook", WEBHOOKS)
def test_the_app_refuses_an_unsigned_webhook_outside_the_demo(settings, db, hook):
    from safezone.app import create_app

    hooked = settings.model_copy(update={hook: HOOK})
    for env in ("test", "development", "production"):
        with pytest.raises(RuntimeError, match="SAFEZONE_WEBHOOK_SECRET must be set"):
            create_app(hooked.model_copy(update={"env": env}), database=db)
    create_app(hooked.model_copy(update={"env": "demo"}), database=db)
    create_app(hooked.model_copy(update={"webhook_secret": "s" * 16}), database=db)


def test_serve_with_an_unsigned_housewatch_webhook_names_the_setting(
    no_webhook_env, monkeypatch, capsys, tmp_path
):
    monkeypatch.setenv("SAFEZONE_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("SAFEZONE_HOUSEWATCH_WEBHOOK_URL", HOOK)
    import uvicorn

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server started with an unsigned house-watch webhook")

    monkeypatch.setattr(uvicorn, "run", started)
    code = main(["--data-dir", str(tmp_path), "serve"])
    assert code == 2
    err = capsys.readouterr().err
    assert "SAFEZONE_WEBHOOK_SECRET" in err and "SAFEZONE_HOUSEWATCH_WEBHOOK_URL" in err
