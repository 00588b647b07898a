"""The compliance report as CSV (one row per due slot) and as an A4 PDF (Thai first)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF

from safezone.patrol.posters import FONTS
from safezone.patrol.schemas import ComplianceReport

CSV_COLUMNS = (
    "date",
    "plan_id",
    "plan",
    "shift_start",
    "shift_end",
    "position",
    "checkpoint_id",
    "checkpoint",
    "slot",
    "due_from",
    "due_until",
    "outcome",
    "checkin_status",
    "scanned_at",
    "officer",
    "checkin_id",
)
OUTCOME_TH = {
    "on_time": "ตรงเวลา",
    "late": "ล่าช้า",
    "missed": "ขาดตรวจ",
    "pending": "รอตรวจ",
}
STATE_TH = {
    "on_time": "ตรวจครบตรงเวลา",
    "late": "ตรวจแล้ว (มีล่าช้า)",
    "partial": "ตรวจไม่ครบ",
    "missed": "ไม่ได้ตรวจ",
    "pending": "ยังไม่ได้ตรวจ",
}


def _local(moment: datetime | None, zone: ZoneInfo, fmt: str = "%Y-%m-%dT%H:%M:%S%z") -> str:
    return moment.astimezone(zone).strftime(fmt) if moment is not None else ""


def _safe_cell(value: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula; names come from users.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(report: ComplianceReport) -> str:
    """One row per due slot, times in the plan's local zone (ISO 8601 with offset)."""
    zone = ZoneInfo(report.timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for cp in report.checkpoints:
        for slot in cp.slots:
            writer.writerow(
                (
                    report.date.isoformat(),
                    report.plan_id,
                    _safe_cell(report.plan_name),
                    _local(report.shift_start, zone),
                    _local(report.shift_end, zone),
                    cp.position + 1,
                    cp.checkpoint_id,
                    _safe_cell(cp.name),
                    slot.index + 1,
                    _local(slot.due_from, zone),
                    _local(slot.due_until, zone),
                    slot.outcome,
                    slot.checkin_status or "",
                    _local(slot.scanned_at, zone),
                    _safe_cell(slot.officer or ""),
                    slot.checkin_id if slot.checkin_id is not None else "",
                )
            )
    return out.getvalue()


def to_pdf(report: ComplianceReport, *, station_name: str) -> bytes:
    """An A4 report: totals, each checkpoint with its slots, and each officer."""
    zone = ZoneInfo(report.timezone)
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("Loma", "", str(FONTS / "Loma.ttf"))
    pdf.add_font("Loma", "B", str(FONTS / "Loma-Bold.ttf"))
    pdf.set_text_shaping(True)
    pdf.set_title(f"Patrol compliance {report.plan_name} {report.date.isoformat()}")
    pdf.set_creator("SafeZone")
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_font("Loma", "B", 18)
    pdf.cell(width, 10, "รายงานการตรวจตามแผนสายตรวจ", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Loma", "", 11)
    pdf.cell(width, 6, "Patrol plan compliance report", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(width, 6, station_name, new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        width,
        6,
        f"แผน / Plan: {report.plan_name} (#{report.plan_id})",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(
        width,
        6,
        f"เวร / Shift: {_local(report.shift_start, zone, '%Y-%m-%d %H:%M')} – "
        f"{_local(report.shift_end, zone, '%Y-%m-%d %H:%M')} ({report.timezone})",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    status = "จบเวรแล้ว / shift ended" if report.finished else "ระหว่างเวร / shift running"
    pdf.cell(
        width,
        6,
        f"{status} · ออกรายงาน / generated {_local(report.generated_at, zone, '%Y-%m-%d %H:%M')}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    t = report.totals
    pdf.ln(2)
    pdf.set_font("Loma", "B", 12)
    pdf.cell(
        width,
        7,
        f"ตรงเวลา on time {t.on_time} · ล่าช้า late {t.late} · ขาดตรวจ missed {t.missed}"
        f" · รอตรวจ pending {t.pending} · ถูกทักท้วง flagged {t.flagged}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)

    pdf.set_font("Loma", "B", 13)
    pdf.cell(width, 8, "จุดตรวจ / Checkpoints", new_x="LMARGIN", new_y="NEXT")
    with pdf.table(
        col_widths=(8, 50, 18, 18, 18, 18, 18, 32),
        text_align=("RIGHT", "LEFT", "CENTER", "CENTER", "CENTER", "CENTER", "CENTER", "LEFT"),
    ) as table:
        pdf.set_font("Loma", "B", 9)
        table.row(("#", "จุดตรวจ / checkpoint", "เป้า", "ตรงเวลา", "ล่าช้า", "ขาด", "ทักท้วง", "สถานะ"))
        pdf.set_font("Loma", "", 9)
        for cp in report.checkpoints:
            table.row(
                (
                    str(cp.position + 1),
                    f"{cp.name} ({cp.checkpoint_id})",
                    str(cp.target_visits),
                    str(cp.on_time),
                    str(cp.late),
                    str(cp.missed),
                    str(cp.flagged),
                    STATE_TH[cp.state],
                )
            )
    pdf.ln(3)

    pdf.set_font("Loma", "B", 13)
    pdf.cell(width, 8, "เจ้าหน้าที่ / Officers", new_x="LMARGIN", new_y="NEXT")
    with pdf.table(col_widths=(50, 22, 22, 22, 26, 26), text_align="CENTER") as table:
        pdf.set_font("Loma", "B", 9)
        table.row(("เจ้าหน้าที่", "ตรงเวลา", "ล่าช้า", "ทักท้วง", "เช็คอิน", "ถูกปฏิเสธ"))
        pdf.set_font("Loma", "", 9)
        for officer in report.officers:
            table.row(
                (
                    officer.officer,
                    str(officer.on_time),
                    str(officer.late),
                    str(officer.flagged),
                    str(officer.checkins),
                    str(officer.rejected_scans),
                )
            )
    pdf.ln(3)

    pdf.set_font("Loma", "B", 13)
    pdf.cell(width, 8, "รอบตรวจ / Due slots", new_x="LMARGIN", new_y="NEXT")
    with pdf.table(col_widths=(34, 10, 34, 22, 34, 46)) as table:
        pdf.set_font("Loma", "B", 9)
        table.row(("จุดตรวจ", "รอบ", "กำหนด / due", "ผล", "สแกน / scanned", "เจ้าหน้าที่"))
        pdf.set_font("Loma", "", 9)
        for cp in report.checkpoints:
            for slot in cp.slots:
                outcome = OUTCOME_TH[slot.outcome]
                if slot.checkin_status == "flagged":
                    outcome += " (ทักท้วง)"
                table.row(
                    (
                        cp.checkpoint_id,
                        str(slot.index + 1),
                        f"{_local(slot.due_from, zone, '%H:%M')}–"
                        f"{_local(slot.due_until, zone, '%H:%M')}",
                        outcome,
                        _local(slot.scanned_at, zone, "%H:%M:%S"),
                        slot.officer or "",
                    )
                )
    return bytes(pdf.output())
