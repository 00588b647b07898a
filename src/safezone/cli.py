"""The `safezone` command: demo, serve, db, users, station, audit, import/export,
checkpoint posters."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from safezone.config import Settings
from safezone.core.db import Database
from safezone.core.errors import AppError

SYSTEM_ACTOR = "system:cli"


class CliError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(overrides)
    if getattr(args, "data_dir", None):
        values["data_dir"] = Path(args.data_dir)
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CliError(
            f"configuration: {'.'.join(str(p) for p in first['loc']) or 'settings'}: {first['msg']}"
        ) from exc


def _database(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(settings.resolved_database_url)


def _migrated(settings: Settings) -> Database:
    from safezone.core import migrate

    db = _database(settings)
    migrate.upgrade(db)
    return db


def _default_station(db: Database, wanted: str | None) -> str:
    from safezone.zones import service as zones_service

    with db.reader() as session:
        ids = [s.id for s in zones_service.list_stations(session)]
    if wanted:
        if wanted not in ids:
            raise CliError(f"--station: no station '{wanted}' (known: {', '.join(ids) or '-'})")
        return wanted
    if len(ids) != 1:
        raise CliError(
            "--station is required: "
            + (
                "no station exists yet (safezone station create)"
                if not ids
                else f"there are several ({', '.join(ids)})"
            )
        )
    return ids[0]


# --- commands -------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args, env="development")
    db = _migrated(settings)
    from safezone.core import migrate

    print(f"database at revision {migrate.current(db)} ({_redact(db.url)})")
    return 0


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _read_password(prompt_twice: bool) -> str:
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if prompt_twice and getpass.getpass("Again: ") != password:
            raise CliError("the two passwords differ")
    return password


def cmd_users_create(args: argparse.Namespace) -> int:
    from safezone.auth import schemas
    from safezone.auth import service as auth_service

    settings = _settings(args, env="development")
    db = _migrated(settings)
    station_id = _default_station(db, args.station)
    password = _read_password(prompt_twice=True)
    try:
        data = schemas.UserCreate(
            username=args.username,
            password=password,
            role=args.role,
            display_name=args.display_name or args.username,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CliError(f"{first['loc'][0]}: {first['msg']}") from exc
    with db.transaction() as session:
        user = auth_service.create_user(
            session, data=data, station_id=station_id, actor=SYSTEM_ACTOR
        )
        print(f"created {user.role} '{user.username}' at station {station_id}")
    return 0


def cmd_station_create(args: argparse.Namespace) -> int:
    from safezone.zones import service as zones_service

    settings = _settings(args, env="development")
    db = _migrated(settings)
    if not (-90 <= args.lat <= 90 and -180 <= args.lon <= 180):
        raise CliError("--lat must be within -90..90 and --lon within -180..180")
    with db.transaction() as session:
        zones_service.create_station(
            session,
            station_id=args.id,
            name_th=args.name_th,
            name_en=args.name_en,
            lat=args.lat,
            lon=args.lon,
            actor=SYSTEM_ACTOR,
        )
    print(f"created station {args.id}")
    return 0


def _parse_anchor(value: str) -> tuple[int, str]:
    seq, sep, digest = value.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise CliError(f"--anchor {value!r}: expected SEQ:SHA256HEX, as printed by 'audit head'")
    return int(seq), digest.lower()


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from safezone.audit import service as audit_service

    settings = _settings(args, env="development")
    db = _database(settings)
    anchors = dict(_parse_anchor(a) for a in args.anchor or [])
    with db.reader() as session:
        result = audit_service.verify(session, anchors=anchors)
    if args.json:
        print(json.dumps(result.__dict__))
    elif result.ok:
        print(
            f"audit chain intact: {result.entries} entries, head {result.head_seq}:"
            f"{result.head_hash}"
        )
    else:
        print(
            f"AUDIT CHAIN BROKEN at entry {result.first_bad_seq}: {result.problem}", file=sys.stderr
        )
    return 0 if result.ok else 1


def cmd_audit_head(args: argparse.Namespace) -> int:
    from safezone.audit import service as audit_service

    db = _database(_settings(args, env="development"))
    with db.reader() as session:
        seq, digest = audit_service.head(session)
    print(f"{seq}:{digest}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from safezone.zones import service as zones_service

    what, path = (args.what, args.file) if args.file else ("registry", args.what)
    if what == "incidents":
        return _import_incidents(args, Path(path))
    if what != "registry":
        raise CliError(
            f"import: unknown kind '{what}'; use: safezone import [registry|incidents] FILE"
        )
    db = _migrated(_settings(args, env="development"))
    station_id = _default_station(db, args.station)
    try:
        collection = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CliError(f"{path}: no such file") from exc
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    with db.transaction() as session:
        result = zones_service.import_geojson(
            session, station_id=station_id, collection=collection, actor=SYSTEM_ACTOR
        )
    print(json.dumps(result.model_dump()))
    return 0


def _import_incidents(args: argparse.Namespace, path: Path) -> int:
    """Past incidents from CSV or GeoJSON: every row checked, then all written or none."""
    from safezone.analytics import importer
    from safezone.analytics.events import EventFileError, parse_mapping
    from safezone.core.db import utcnow

    try:
        mapping = parse_mapping(args.columns)
        category_map = importer.parse_category_map(args.category_map)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    db = _migrated(_settings(args, env="development"))
    station_id = _default_station(db, args.station)
    bar = _Progress(force=args.progress)
    try:
        plan = importer.plan_import(
            path,
            mapping=mapping,
            category_map=category_map,
            timezone=args.timezone,
            now=utcnow(),
            progress=lambda n: bar("checking", n, 0),
        )
        bar.finish()
    except EventFileError as exc:
        raise CliError(str(exc)) from exc
    if plan.total == 0:
        raise CliError(f"{path}: no rows to import")
    for rejection in plan.rejected[: importer.MAX_REJECTIONS_SHOWN]:
        print(f"rejected {rejection.where}: {rejection.reason}", file=sys.stderr)
    hidden = len(plan.rejected) - importer.MAX_REJECTIONS_SHOWN
    if hidden > 0:
        print(f"... and {hidden} more rejected rows", file=sys.stderr)
    if plan.rejected and not args.skip_bad:
        print(
            f"safezone: error: {len(plan.rejected)} of {plan.total} rows are bad; nothing was "
            "imported. Fix them, or give --skip-bad to import the good rows only.",
            file=sys.stderr,
        )
        return 1
    with db.transaction() as session:
        written = importer.write_import(
            session,
            plan=plan,
            station_id=station_id,
            actor=SYSTEM_ACTOR,
            progress=lambda done, total: bar("importing", done, total),
        )
    print(
        json.dumps(
            {
                "file": str(path),
                "station": station_id,
                "rows": plan.total,
                "imported": written,
                "rejected": [{"where": r.where, "reason": r.reason} for r in plan.rejected],
            }
        )
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from safezone.zones import service as zones_service

    what, path = (args.what, args.file) if args.file else ("registry", args.what)
    if what != "registry":
        raise CliError(f"export: unknown kind '{what}'; use: safezone export [registry] FILE")
    db = _migrated(_settings(args, env="development"))
    station_id = _default_station(db, args.station)
    with db.reader() as session:
        collection = zones_service.export_geojson(
            session, station_id=station_id, with_secrets=args.with_secrets
        )
    text = json.dumps(collection, ensure_ascii=False, indent=1)
    if path == "-":
        print(text)
    else:
        Path(path).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {len(collection['features'])} features to {path}")
    return 0


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from safezone.app import create_app
    from safezone.core.runtime import freeze_startup_objects

    # The SOS path crosses several threads (MQTT, storage, the event loop); a shorter GIL
    # switch interval keeps a press from waiting 5 ms at each hand-over under load.
    sys.setswitchinterval(0.001)
    db = _migrated(settings)
    from safezone.patrol.roads import RoadGraphError

    try:
        app = create_app(settings, database=db)
    except RoadGraphError as exc:
        raise CliError(f"SAFEZONE_ROAD_GRAPH: {exc}") from exc
    except RuntimeError as exc:  # a setting the app refuses at start
        raise CliError(f"configuration: {exc}") from exc
    freeze_startup_objects()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _serve(settings, args.host, args.port)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from safezone import demo

    overrides: dict[str, Any] = {"env": "demo"}
    settings = _settings(args, **overrides)
    db = _migrated(settings)
    secret = demo.secret_key(settings.data_dir)
    settings = settings.model_copy(update={"secret_key": secret})
    password = settings.demo_password or os.environ.get("SAFEZONE_DEMO_PASSWORD")
    outcome = demo.ensure_demo(
        db, data_dir=settings.data_dir, password=password, timezone=settings.local_timezone
    )
    url = f"http://{args.host}:{args.port}"
    print(demo.banner(outcome, url=url), flush=True)
    if not args.simulate_cameras:
        demo.use_simulated_cameras(db, base_url=None, count=0)
        _serve(settings, args.host, args.port)
        return 0
    from safezone.cameras.simulator import Simulator

    if not 1 <= args.simulate_cameras <= 100:
        raise CliError("--simulate-cameras must be between 1 and 100")
    try:
        simulator = Simulator(args.simulate_cameras, http_port=args.camera_port)
    except OSError as exc:
        raise CliError(f"--camera-port {args.camera_port}: {exc}") from exc
    with simulator:
        base = f"http://127.0.0.1:{simulator.http_port}"
        changed = demo.use_simulated_cameras(db, base_url=base, count=args.simulate_cameras)
        print(f"  {changed} demo cameras show the simulated feeds of {base}/", flush=True)
        _serve(settings, args.host, args.port)
    return 0


def cmd_checkpoints_posters(args: argparse.Namespace) -> int:
    from safezone.core.db import utcnow
    from safezone.patrol import posters
    from safezone.patrol import service as patrol_service
    from safezone.zones import service as zones_service

    out = Path(args.out)
    if out.suffix.lower() != ".pdf":
        raise CliError(f"--out: '{out}' should end in .pdf")
    if not out.parent.is_dir():
        raise CliError(f"--out: the folder '{out.parent}' does not exist")
    db = _migrated(_settings(args, env="development"))
    station_id = _default_station(db, args.station)
    partial = out.with_name(out.name + ".part")
    try:
        # Keys made for first-time posters and the audit entry commit only with a PDF.
        with db.transaction() as session:
            station = zones_service.get_station(session, station_id=station_id)
            codes = patrol_service.poster_codes(
                session, station_id=station_id, actor=SYSTEM_ACTOR, ids=args.checkpoint or ()
            )
            if not codes:
                raise CliError(f"station {station_id} has no active checkpoints to print")
            pdf = posters.render(
                [posters.Poster(c.id, c.name, c.radius_m, code) for c, code in codes],
                station_name=f"{station.name_th} ({station.name_en})",
                printed_at=utcnow(),
            )
            partial.write_bytes(pdf)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    print(f"wrote {len(codes)} checkpoint posters to {out}")
    return 0


def cmd_plans_compliance(args: argparse.Namespace) -> int:
    from datetime import date

    from safezone.core.errors import AppError
    from safezone.patrol import export, plans
    from safezone.zones import service as zones_service

    out = Path(args.out)
    kind = out.suffix.lower()
    if kind not in (".csv", ".pdf"):
        raise CliError(f"--out: '{out}' should end in .csv or .pdf")
    if not out.parent.is_dir():
        raise CliError(f"--out: the folder '{out.parent}' does not exist")
    try:
        day = date.fromisoformat(args.date) if args.date else None
    except ValueError:
        raise CliError(f"--date: '{args.date}' is not a date like 2026-11-27") from None
    db = _migrated(_settings(args, env="development"))
    station_id = _default_station(db, args.station)
    with db.reader() as session:
        try:
            report = plans.compliance_report(
                session, plan_id=args.plan, station_id=station_id, day=day
            )
        except AppError as exc:
            raise CliError(exc.message) from exc
        station = zones_service.get_station(session, station_id=station_id)
        station_name = f"{station.name_th} / {station.name_en}"
    body = (
        export.to_csv(report).encode("utf-8")
        if kind == ".csv"
        else export.to_pdf(report, station_name=station_name)
    )
    partial = out.with_name(out.name + ".part")
    try:
        partial.write_bytes(body)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    t = report.totals
    print(
        f"plan {report.plan_id} shift {report.date.isoformat()}: on time {t.on_time}, "
        f"late {t.late}, missed {t.missed}, pending {t.pending}, flagged {t.flagged}; "
        f"wrote {out}"
    )
    return 0


def cmd_brief(args: argparse.Namespace) -> int:
    from datetime import UTC, date, datetime

    from safezone.commander import brief as brief_render
    from safezone.commander import service as commander_service

    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        raise CliError(f"--date: '{args.date}' is not a date (YYYY-MM-DD)") from None
    out = Path(args.out)
    if out.suffix.lower() != ".pdf":
        raise CliError(f"--out: '{out}' should end in .pdf")
    if not out.parent.is_dir():
        raise CliError(f"--out: the folder '{out.parent}' does not exist")
    settings = _settings(args, env="development")
    db = _migrated(settings)
    station_id = _default_station(db, args.station)
    print(f"brief {day}: reading figures and forecasting ...", file=sys.stderr)
    with db.reader() as session:
        data = commander_service.brief(
            session, station_id=station_id, day=day, timezone=settings.local_timezone
        )
    print("brief: drawing the map and the PDF ...", file=sys.stderr)
    pdf = brief_render.render_pdf(data, printed_at=datetime.now(UTC))
    partial = out.with_name(out.name + ".part")
    try:
        partial.write_bytes(pdf)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    print(f"wrote the {day} brief for station {station_id} to {out}")
    return 0


def cmd_simulate_sos_boxes(args: argparse.Namespace) -> int:
    from safezone.sos import simulator

    settings = _settings(args, env="development")
    device_file = Path(args.devices) if args.devices else settings.data_dir / "demo-devices.json"
    if args.count < 1 or args.rate <= 0:
        raise CliError("--count must be at least 1 and --rate above 0")
    try:
        boxes = simulator.load_boxes(device_file, args.count)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    mqtt_url = args.mqtt_url or (settings.mqtt_url if args.transport == "mqtt" else None)
    if args.transport == "mqtt":
        if not mqtt_url:
            raise CliError("--transport mqtt needs --mqtt-url or SAFEZONE_MQTT_URL")
        try:
            send = simulator.mqtt_sender(mqtt_url)
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot reach the MQTT broker at {mqtt_url}: {exc}") from exc
    else:
        send = simulator.http_sender(args.url)

    def progress(stats: simulator.Stats, elapsed: float) -> None:
        total = sum(stats.sent.values())
        print(
            f"[{elapsed:6.0f} s] sent {total} ({total / max(elapsed, 1e-9):.1f}/s) "
            f"{dict(stats.sent)} errors {stats.errors}",
            file=sys.stderr,
            flush=True,
        )

    print(
        f"simulating {len(boxes)} boxes at {args.rate}/s over {args.transport}; Ctrl-C stops",
        file=sys.stderr,
    )
    problem = simulator.cadence_problem(boxes, args.rate)
    if problem:
        print(f"warning: {problem}", file=sys.stderr)
    try:
        stats = simulator.run(
            boxes,
            rate=args.rate,
            duration_s=args.duration,
            send=send,
            seed=args.seed,
            progress=progress,
        )
    except KeyboardInterrupt:
        return 130
    print(json.dumps(stats.summary()))
    return 0


class _Progress:
    """A one-line progress bar on stderr (only where stderr is a terminal, or forced)."""

    def __init__(self, *, force: bool = False) -> None:
        self.enabled = force or sys.stderr.isatty()
        self.last = -1
        self.dangling = False

    def finish(self) -> None:
        if self.dangling:
            print(file=sys.stderr, flush=True)
            self.dangling = False

    def __call__(self, label: str, done: int, total: int) -> None:
        """``total`` 0: a count of unknown length, shown every 1000."""
        if not self.enabled:
            return
        if total <= 0:
            if done % 1000 == 0:
                print(f"\r{label:<12} {done} rows", end="", file=sys.stderr, flush=True)
                self.dangling = True
            return
        self.finish()
        percent = int(100 * done / total)
        if percent == self.last and done != total:
            return
        self.last = percent
        bar = "#" * (percent // 5)
        end = "\n" if done == total else ""
        print(
            f"\r{label:<12} [{bar:<20}] {percent:3d}% {done}/{total}",
            end=end,
            file=sys.stderr,
            flush=True,
        )
        if done == total:
            self.last = -1


def cmd_analytics_backtest(args: argparse.Namespace) -> int:
    from datetime import date

    from safezone.analytics import service as analytics_service
    from safezone.analytics.events import EventFileError, parse_mapping

    try:
        start = date.fromisoformat(args.start)
    except ValueError as exc:
        raise CliError(f"--start {args.start!r}: expected YYYY-MM-DD") from exc
    if args.days < 1:
        raise CliError("--days must be at least 1")
    if args.cell_m <= 0:
        raise CliError("--cell-m must be above 0")
    try:
        mapping = parse_mapping(args.columns)
        events = analytics_service.load(Path(args.events), mapping)
        summary = analytics_service.backtest(
            events,
            method=args.method,
            cell_m=args.cell_m,
            start=start,
            days=args.days,
            category=args.category,
            vs=args.vs,
            progress=_Progress(force=args.progress),
        )
    except EventFileError as exc:
        raise CliError(str(exc)) from exc
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from exc
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(summary))
        return 0
    print(
        f"{summary['method']}: {summary['days']} days from {start}, {summary['events']} events, "
        f"{summary['ms_per_forecast']} ms per forecast"
    )
    print("area    hit rate   PAI")
    for area, rate in summary["hit_rate"].items():
        print(f"{area:>3} %   {100 * rate:6.2f} %   {summary['pai'][area]:6.2f}")
    lo, hi = summary["ci95_hit_rate_5"]
    print(f"hit rate at 5 %: 95 % CI {100 * lo:.2f}-{100 * hi:.2f} % (day bootstrap)")
    if args.vs:
        lo, hi = summary["ci95_diff_5"]
        print(
            f"vs {args.vs}: {100 * summary['vs_hit_rate_5']:.2f} % at 5 %; difference "
            f"{100 * summary['diff_hit_rate_5']:+.2f} points (95 % CI {100 * lo:+.2f} to "
            f"{100 * hi:+.2f})"
        )
    return 0


# --- parser ---------------------------------------------------------------------------


def cmd_faces_worker(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from safezone.faces import jobs as faces_jobs

    if args.count < 1 or not 0 <= args.index < args.count:
        raise CliError(f"--index must be in 0..{args.count - 1} and --count at least 1")
    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(faces_jobs.run_worker(_settings(args), index=args.index, count=args.count))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_faces_feed(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from safezone.faces import feeder

    if not 0 < args.fps <= 30:
        raise CliError(f"--fps {args.fps}: give a rate above 0 and at most 30 frames a second")
    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(feeder.run_feeder(_settings(args), fps=args.fps))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_privacy_export(args: argparse.Namespace) -> int:
    import shutil

    from safezone.faces import service as faces_service

    settings = _settings(args, env="development")
    db = _database(settings)
    with db.transaction() as session:
        data = faces_service.export_person(
            session, person_id=args.person, actor=SYSTEM_ACTOR, media_dir=settings.media_dir
        )
    document = {
        "person_id": args.person,
        "watchlist_entries": data.entries,
        "matches": data.matches,
    }
    if not args.out:
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in data.files:
        if path.is_file():
            target = out / "files" / path.relative_to(settings.media_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    (out / "person.json").write_text(json.dumps(document, ensure_ascii=False, indent=2))
    print(
        f"exported {len(data.entries)} watchlist entries and {len(data.matches)} matches of"
        f" person {args.person} to {out}"
    )
    return 0


def cmd_privacy_erase(args: argparse.Namespace) -> int:
    from safezone.faces import service as faces_service

    if not args.yes:
        raise CliError("erasing cannot be undone: repeat with --yes to erase")
    settings = _settings(args, env="development")
    db = _database(settings)
    with db.transaction() as session:
        totals = faces_service.erase_person(
            session, person_id=args.person, actor=SYSTEM_ACTOR, media_dir=settings.media_dir
        )
    print(
        f"erased person {args.person}: {totals['entries']} watchlist entries,"
        f" {totals['photos']} photos, {totals['embeddings']} embeddings,"
        f" {totals['matches']} matches"
    )
    return 0


def cmd_simulate_cameras(args: argparse.Namespace) -> int:
    from safezone.cameras.simulator import Simulator

    if args.count < 1 or args.count > 100:
        raise CliError("--count must be between 1 and 100")
    if not 0 < args.fps <= 30:
        raise CliError("--fps must be above 0 and at most 30")
    try:
        simulator = Simulator(
            args.count,
            host=args.host,
            http_port=args.http_port,
            rtsp_port=args.rtsp_port if args.rtsp else None,
            fps=args.fps,
        )
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}: {exc}") from exc
    with simulator:
        print(
            f"{args.count} simulated cameras at {args.fps:g} fps: "
            f"http://{args.host}:{simulator.http_port}/",
            flush=True,
        )
        for number in range(1, args.count + 1):
            urls = [simulator.snapshot_url(number), simulator.mjpeg_url(number)]
            line = f"  camera {number}: " + "  ".join(urls)
            if args.rtsp:
                line += f"  {simulator.rtsp_url(number)}"
            print(line, flush=True)
        deadline = time.monotonic() + args.duration if args.duration else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    return 0


def _exporter(db: Database, username: str) -> Any:
    from safezone.auth import service as auth_service
    from safezone.core.permissions import CONTROL_ROOM

    with db.reader() as session:
        user = auth_service.find_user(session, username=username)
        if user is None or not user.active:
            raise CliError(f"--by: no active account '{username}'")
        if user.role not in CONTROL_ROOM:
            raise CliError(
                f"--by: {username} is {user.role}; exports need {', '.join(CONTROL_ROOM)}"
            )
        return user.username, user.station_id


def cmd_evidence_export(args: argparse.Namespace) -> int:
    from safezone.cameras import evidence

    settings = _settings(args, env="development")
    db = _database(settings)
    username, station_id = _exporter(db, args.by)
    with db.transaction() as session:
        manifest = evidence.export_incident(
            session,
            incident_id=args.incident,
            station_id=station_id,
            out_dir=Path(args.out),
            media_dir=settings.media_dir,
            actor=f"user:{username}",
            reason=args.reason,
        )
    print(
        f"exported {len(manifest['files'])} files of incident {args.incident} to {args.out}"
        f" (audit entry {manifest['audit']['seq']}, files SHA-256 {manifest['files_sha256']})"
    )
    return 0


def cmd_evidence_verify(args: argparse.Namespace) -> int:
    from safezone.cameras import evidence

    folder = Path(args.folder)
    if not folder.is_dir():
        raise CliError(f"{folder} is not a folder")
    db = _database(_settings(args, env="development"))
    with db.reader() as session:
        check = evidence.verify_export(session, folder=folder)
    if args.json:
        print(json.dumps(check.__dict__))
    elif check.ok:
        print(f"evidence intact: {check.files} files, recorded at audit entry {check.audit_seq}")
    else:
        print("EVIDENCE NOT INTACT:", file=sys.stderr)
        for problem in check.problems:
            print(f"  {problem}", file=sys.stderr)
    return 0 if check.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="safezone",
        description="SafeZone: citizen reports, SOS, CCTV, patrol and a command centre "
        "for a police station. Settings come from SAFEZONE_* environment variables.",
    )
    parser.add_argument("--data-dir", help="data directory (SAFEZONE_DATA_DIR)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help_: str, parent: Any = sub
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    p = add("demo", cmd_demo, "build a demo station (if none) and serve it")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--simulate-cameras",
        type=int,
        default=0,
        metavar="N",
        help="also serve N simulated camera feeds and point the demo cameras at them",
    )
    p.add_argument("--camera-port", type=int, default=8090, help="port of the simulated feeds")

    p = add("serve", cmd_serve, "serve the web app and API (needs SAFEZONE_SECRET_KEY)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    add("upgrade", cmd_db_upgrade, "apply all migrations", parent=db)

    users = sub.add_parser("users", help="accounts").add_subparsers(
        dest="users_command", required=True, metavar="ACTION"
    )
    p = add(
        "create",
        cmd_users_create,
        "create an account (password from prompt or stdin)",
        parent=users,
    )
    p.add_argument(
        "--role", required=True, choices=["citizen", "officer", "operator", "commander", "admin"]
    )
    p.add_argument("--username", required=True)
    p.add_argument("--station")
    p.add_argument("--display-name")

    station = sub.add_parser("station", help="police stations").add_subparsers(
        dest="station_command", required=True, metavar="ACTION"
    )
    p = add("create", cmd_station_create, "create a station", parent=station)
    p.add_argument("--id", required=True)
    p.add_argument("--name-th", required=True)
    p.add_argument("--name-en", required=True)
    p.add_argument("--lat", type=float, required=True)
    p.add_argument("--lon", type=float, required=True)

    audit = sub.add_parser("audit", help="the audit chain").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    p = add(
        "verify", cmd_audit_verify, "check every entry; exit 1 on the first bad one", parent=audit
    )
    p.add_argument(
        "--anchor",
        action="append",
        help="SEQ:HASH from an earlier 'audit head', kept outside the database",
    )
    p.add_argument("--json", action="store_true")
    add(
        "head", cmd_audit_head, "print the chain head as SEQ:HASH (keep it elsewhere)", parent=audit
    )

    checkpoints = sub.add_parser("checkpoints", help="patrol checkpoints").add_subparsers(
        dest="checkpoints_command", required=True, metavar="WHAT"
    )
    p = add(
        "posters",
        cmd_checkpoints_posters,
        "print A4 posters (QR code, name, Thai instructions) for the checkpoints as a PDF",
        parent=checkpoints,
    )
    p.add_argument("--out", required=True, help="the PDF file to write")
    p.add_argument("--station")
    p.add_argument("--checkpoint", action="append", help="only this checkpoint id (repeatable)")

    plans_group = sub.add_parser("plans", help="patrol plans").add_subparsers(
        dest="plans_command", required=True, metavar="WHAT"
    )
    p = add(
        "compliance",
        cmd_plans_compliance,
        "write a plan's compliance report for a shift (on time, late, missed) as CSV or PDF",
        parent=plans_group,
    )
    p.add_argument("--plan", type=int, required=True, help="the plan id")
    p.add_argument("--date", help="the shift's local start date (default: running or last)")
    p.add_argument("--out", required=True, help="the .csv or .pdf file to write")
    p.add_argument("--station")

    simulate = sub.add_parser("simulate", help="simulated devices").add_subparsers(
        dest="simulate_command", required=True, metavar="WHAT"
    )
    p = add(
        "sos-boxes",
        cmd_simulate_sos_boxes,
        "drive SOS box traffic from the demo's device file",
        parent=simulate,
    )
    p.add_argument("--count", type=int, default=12, help="how many boxes")
    p.add_argument("--rate", type=float, default=2.0, help="messages per second, all boxes")
    p.add_argument("--duration", type=float, help="seconds (default: until Ctrl-C)")
    p.add_argument("--transport", choices=["mqtt", "http"], default="http")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the server, for HTTP")
    p.add_argument("--mqtt-url", help="the broker, for MQTT (default SAFEZONE_MQTT_URL)")
    p.add_argument("--devices", help="device file (default: the data dir's demo-devices.json)")
    p.add_argument("--seed", type=int, help="random seed, for repeatable traffic")

    p = add(
        "cameras",
        cmd_simulate_cameras,
        "serve simulated cameras (moving scenes with faces) over HTTP (snapshot, MJPEG) and RTSP",
        parent=simulate,
    )
    p.add_argument("--count", type=int, default=4, help="how many cameras")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--http-port", type=int, default=8090, help="HTTP port (0: any free one)")
    p.add_argument("--rtsp", action="store_true", help="also serve RTSP")
    p.add_argument("--rtsp-port", type=int, default=8554, help="RTSP port (0: any free one)")
    p.add_argument("--fps", type=float, default=5.0, help="frames per second")
    p.add_argument("--duration", type=float, help="seconds (default: until Ctrl-C)")

    evidence = sub.add_parser("evidence", help="evidence export with chain of custody")
    evidence_sub = evidence.add_subparsers(dest="evidence_command", required=True, metavar="ACTION")
    p = add(
        "export",
        cmd_evidence_export,
        "write an incident's evidence files and a manifest (SHA-256, audit position) to a folder",
        parent=evidence_sub,
    )
    p.add_argument("--incident", type=int, required=True, help="incident id")
    p.add_argument("--out", required=True, help="folder to create (must not exist or be empty)")
    p.add_argument("--by", required=True, help="username of the exporter (control room)")
    p.add_argument("--reason", required=True, help="why (court case, request number...)")
    p = add(
        "verify",
        cmd_evidence_verify,
        "re-hash an export's files and check its manifest against the audit chain",
        parent=evidence_sub,
    )
    p.add_argument("folder")
    p.add_argument("--json", action="store_true")

    analytics = sub.add_parser("analytics", help="hotspots and forecasts").add_subparsers(
        dest="analytics_command", required=True, metavar="ACTION"
    )
    p = add(
        "backtest",
        cmd_analytics_backtest,
        "rolling-origin backtest of a forecast method on an event file",
        parent=analytics,
    )
    p.add_argument("--events", required=True, help="CSV (or .csv.gz) of past events")
    p.add_argument(
        "--method",
        required=True,
        help="counts30, counts365, kde, prospective, etas, default or uniform",
    )
    p.add_argument("--cell-m", type=float, default=200.0, help="grid cell size, metres")
    p.add_argument("--start", required=True, help="first test day, YYYY-MM-DD")
    p.add_argument("--days", type=int, required=True, help="number of test days")
    p.add_argument("--category", help="only this category")
    p.add_argument("--vs", help="baseline method for a paired difference at 5 %% of the area")
    p.add_argument(
        "--columns", help="column mapping FIELD=COLUMN,... (fields: date,hour,category,lat,lon)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.add_argument("--progress", action="store_true", help="progress on stderr even if piped")

    faces = sub.add_parser("faces", help="face identification").add_subparsers(
        dest="faces_command", required=True, metavar="ACTION"
    )
    p = add(
        "worker",
        cmd_faces_worker,
        "run an analysis worker (needs SAFEZONE_BUS_URL=nats://...)",
        parent=faces,
    )
    p.add_argument("--index", type=int, default=0, help="this worker's number, from 0")
    p.add_argument("--count", type=int, default=1, help="how many workers share the cameras")

    p = add(
        "feed",
        cmd_faces_feed,
        "announce every camera's snapshot to the workers (needs SAFEZONE_BUS_URL=nats://...)",
        parent=faces,
    )
    p.add_argument("--fps", type=float, default=2.0, help="frames a second per camera")

    privacy = sub.add_parser("privacy", help="data-subject (PDPA) requests").add_subparsers(
        dest="privacy_command", required=True, metavar="ACTION"
    )
    p = add(
        "export",
        cmd_privacy_export,
        "everything held about a person (JSON, and files with --out)",
        parent=privacy,
    )
    p.add_argument("--person", required=True, help="the person's reference, as enrolled")
    p.add_argument("--out", help="a folder to write person.json and the files into")
    p = add(
        "erase",
        cmd_privacy_erase,
        "delete everything held about a person (watchlist, photos, embeddings, matches)",
        parent=privacy,
    )
    p.add_argument("--person", required=True, help="the person's reference, as enrolled")
    p.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")

    p = add(
        "import",
        cmd_import,
        "import the registry from GeoJSON (import [registry] FILE) or past incidents from "
        "CSV or GeoJSON (import incidents FILE)",
    )
    p.add_argument("what")
    p.add_argument("file", nargs="?")
    p.add_argument("--station")
    p.add_argument(
        "--columns",
        help="incidents: column mapping FIELD=COLUMN,... (fields: date,hour,category,lat,lon)",
    )
    p.add_argument(
        "--category-map", help="incidents: NAME=CATEGORY,... for the file's own category names"
    )
    p.add_argument(
        "--timezone", default="UTC", help="incidents: time zone of dates without an offset"
    )
    p.add_argument(
        "--skip-bad", action="store_true", help="incidents: import the good rows, list the rest"
    )
    p.add_argument("--progress", action="store_true", help="progress on stderr even if piped")

    p = add(
        "brief",
        cmd_brief,
        "the commander's daily brief as PDF: the day before's incidents, response times "
        "and check-ins, and the first watch's hotspots on a map",
    )
    p.add_argument("--date", required=True, help="brief date, YYYY-MM-DD (local)")
    p.add_argument("--out", required=True, help="PDF file to write")
    p.add_argument("--station")

    p = add("export", cmd_export, "export the registry as GeoJSON: export [registry] FILE|-")
    p.add_argument("what")
    p.add_argument("file", nargs="?")
    p.add_argument("--station")
    p.add_argument("--with-secrets", action="store_true", help="include SOS box secrets")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except CliError as exc:
        print(f"safezone: error: {exc}", file=sys.stderr)
        return 2
    except AppError as exc:
        where = f"{exc.field}: " if exc.field else ""
        print(f"safezone: error: {where}{exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
