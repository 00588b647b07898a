"""`safezone users create`: accounts made on the command line, password read from stdin."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from safezone import cli
from safezone.auth.models import User


@pytest.fixture
def run_cli(settings, db, monkeypatch, capsys):
    """Run `safezone --data-dir <test dir> ARGS...` with STDIN as the password input."""
    monkeypatch.setenv("SAFEZONE_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.delenv("SAFEZONE_SECRET_KEY", raising=False)

    def run(*args: str, stdin: str = ""):
        capsys.readouterr()
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        try:
            code = cli.main(["--data-dir", str(settings.data_dir), *args])
        except SystemExit as exc:  # argparse refuses bad arguments this way
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def user_count(db):
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(User))


def find(db, username):
    with db.reader() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            return None
        return {"role": user.role, "station_id": user.station_id, "hash": user.password_hash}


@pytest.mark.parametrize("role", ["officer", "admin"])
def test_created_user_can_sign_in_through_the_api(run_cli, client, db, role):
    code, out, err = run_cli(
        "users",
        "create",
        "--role",
        role,
        "--username",
        f"cli.{role}",
        "--station",
        "MDH",
        stdin="cli-password-123\n",
    )
    assert code == 0, err
    assert f"cli.{role}" in out
    assert "MDH" in out

    row = find(db, f"cli.{role}")
    assert row is not None
    assert row["role"] == role
    assert row["station_id"] == "MDH"
    assert row["hash"].startswith("$argon2")

    r = client.post(
        "/api/v1/auth/token", data={"username": f"cli.{role}", "password": "cli-password-123"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["role"] == role
    assert r.json()["station_id"] == "MDH"
    # The trailing newline from stdin is not part of the password.
    r = client.post(
        "/api/v1/auth/token", data={"username": f"cli.{role}", "password": "cli-password-123\n"}
    )
    assert r.status_code == 401


def test_user_can_be_created_at_the_other_station(run_cli, db):
    code, _out, err = run_cli(
        "users",
        "create",
        "--role",
        "operator",
        "--username",
        "bkk.op",
        "--station",
        "BKK",
        stdin="cli-password-123\n",
    )
    assert code == 0, err
    assert find(db, "bkk.op")["station_id"] == "BKK"


def test_creation_is_audited(run_cli, client, auth):
    code, _out, err = run_cli(
        "users",
        "create",
        "--role",
        "officer",
        "--username",
        "audited.officer",
        "--station",
        "MDH",
        stdin="cli-password-123\n",
    )
    assert code == 0, err
    r = client.get(
        "/api/v1/audit", params={"action": "user.created", "limit": 1000}, headers=auth("admin")
    )
    entries = [e for e in r.json()["items"] if e["payload"].get("username") == "audited.officer"]
    assert len(entries) == 1
    assert entries[0]["actor"] == "system:cli"
    assert entries[0]["payload"]["role"] == "officer"


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        pytest.param(
            ["--role", "officer", "--username", "shortpw", "--station", "MDH"],
            "short\n",
            "password",
            id="short-password",
        ),
        pytest.param(
            ["--role", "officer", "--username", "emptypw", "--station", "MDH"],
            "",
            "password",
            id="empty-stdin",
        ),
        pytest.param(
            ["--role", "superuser", "--username", "badrole", "--station", "MDH"],
            "cli-password-123\n",
            "--role",
            id="bad-role",
        ),
        pytest.param(
            ["--role", "officer", "--username", "nostation", "--station", "XYZ"],
            "cli-password-123\n",
            "XYZ",
            id="unknown-station",
        ),
        pytest.param(
            ["--role", "officer", "--username", "nostation2"],
            "cli-password-123\n",
            "--station",
            id="station-ambiguous",
        ),
        pytest.param(
            ["--role", "officer", "--username", "bad name!", "--station", "MDH"],
            "cli-password-123\n",
            "username",
            id="bad-username",
        ),
    ],
)
def test_refused_creation_exits_non_zero_with_a_message_and_creates_nothing(
    run_cli, db, args, stdin, expected
):
    before = user_count(db)
    code, out, err = run_cli("users", "create", *args, stdin=stdin)
    assert code not in (0, None)
    assert expected in err, err
    assert "Traceback" not in err
    assert "created" not in out
    assert user_count(db) == before
    username = args[args.index("--username") + 1]
    assert find(db, username) is None


def test_unknown_station_message_lists_the_known_ones(run_cli):
    code, _out, err = run_cli(
        "users",
        "create",
        "--role",
        "officer",
        "--username",
        "x.officer",
        "--station",
        "XYZ",
        stdin="cli-password-123\n",
    )
    assert code == 2
    assert "no station 'XYZ'" in err
    assert "MDH" in err and "BKK" in err


def test_taken_username_is_refused_and_keeps_the_original(run_cli, client, db):
    before = find(db, "admin")
    code, _out, err = run_cli(
        "users",
        "create",
        "--role",
        "citizen",
        "--username",
        "admin",
        "--station",
        "MDH",
        stdin="takeover-password-1\n",
    )
    assert code == 2
    assert "admin" in err and "taken" in err
    assert find(db, "admin") == before
    r = client.post(
        "/api/v1/auth/token", data={"username": "admin", "password": "takeover-password-1"}
    )
    assert r.status_code == 401
