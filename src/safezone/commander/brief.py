"""The daily brief as a map image (matplotlib, no online tiles) and an A4 PDF (fpdf2 with
the vendored Loma font and HarfBuzz shaping, so Thai prints without anything from the
machine)."""

from __future__ import annotations

import io
import math
from datetime import datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")

from fpdf import FPDF  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.patches import Polygon as PolygonPatch  # noqa: E402

from safezone.patrol.posters import FONTS  # noqa: E402

CATEGORY_TH = {
    "theft": "ลักทรัพย์",
    "burglary": "งัดแงะ",
    "robbery": "ชิงทรัพย์",
    "assault": "ทำร้ายร่างกาย",
    "drugs": "ยาเสพติด",
    "traffic": "จราจร",
    "disturbance": "ก่อความวุ่นวาย",
    "suspicious": "พฤติการณ์น่าสงสัย",
    "vandalism": "ทำลายทรัพย์สิน",
    "fire": "อัคคีภัย",
    "medical": "เจ็บป่วย",
    "missing_person": "คนหาย",
    "sos": "SOS",
    "other": "อื่น ๆ",
}
PRIORITY_TH = {"critical": "วิกฤต", "high": "สูง", "medium": "ปานกลาง", "low": "ต่ำ"}
INCIDENT_STATUS_TH = {
    "acknowledged": "รับเรื่องแล้ว",
    "closed": "ปิดเรื่อง",
    "dispatched": "สั่งการแล้ว",
    "new": "ใหม่",
    "on_scene": "ถึงที่เกิดเหตุ",
    "resolved": "คลี่คลายแล้ว",
}
STATUS_TH = {"accepted": "ผ่าน", "flagged": "ต้องตรวจสอบ", "rejected": "ปฏิเสธ"}
COMPLIANCE_TH = {"on_time": "ตรงเวลา", "late": "ล่าช้า", "missed": "ขาด", "pending": "ยังไม่ถึงเวลา"}


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry.get("type") == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry.get("type") == "MultiPolygon":
        return [poly[0] for poly in geometry["coordinates"]]
    return []


def map_png(data: dict[str, Any], *, width_px: int = 1200) -> bytes:
    """Zone outlines, the coming shift's top cells shaded by risk and numbered by rank,
    and the proposed checkpoints, on a plain background, as PNG bytes."""
    fig, ax = plt.subplots(figsize=(width_px / 150, width_px / 150 * 0.75), dpi=150)
    try:
        xs: list[float] = []
        ys: list[float] = []
        for zone in data["zones"]:
            for ring in _rings(zone["geometry"]):
                ax.add_patch(
                    PolygonPatch(ring, closed=True, fill=False, edgecolor="#0b3d91", linewidth=1.5)
                )
                xs += [p[0] for p in ring]
                ys += [p[1] for p in ring]
        features = data["hotspots"]["features"]
        peak = max((f["properties"]["risk"] for f in features), default=0.0) or 1.0
        cmap = plt.get_cmap("YlOrRd")
        for feature in features:
            ring = feature["geometry"]["coordinates"][0]
            level = 0.25 + 0.75 * feature["properties"]["risk"] / peak
            ax.add_patch(
                PolygonPatch(
                    ring, closed=True, facecolor=cmap(level), edgecolor="#7f0000", linewidth=0.6
                )
            )
            cx = sum(p[0] for p in ring[:4]) / 4
            cy = sum(p[1] for p in ring[:4]) / 4
            ax.annotate(
                str(feature["properties"]["rank"]),
                (cx, cy),
                ha="center",
                va="center",
                fontsize=7,
                color="black",
            )
            xs += [p[0] for p in ring]
            ys += [p[1] for p in ring]
        for stop in data["recommendations"]["stops"]:
            ax.plot(stop["lon"], stop["lat"], marker="^", color="#0b3d91", markersize=8)
            ax.annotate(
                stop["checkpoint_id"],
                (stop["lon"], stop["lat"]),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=6,
                color="#0b3d91",
            )
            xs.append(stop["lon"])
            ys.append(stop["lat"])
        if xs:
            pad_x = (max(xs) - min(xs)) * 0.05 or 0.002
            pad_y = (max(ys) - min(ys)) * 0.05 or 0.002
            ax.set_xlim(min(xs) - pad_x, max(xs) + pad_x)
            ax.set_ylim(min(ys) - pad_y, max(ys) + pad_y)
        mid_lat = (min(ys) + max(ys)) / 2 if ys else 0.0
        ax.set_aspect(1 / max(math.cos(math.radians(mid_lat)), 0.1))
        ax.tick_params(labelsize=6)
        ax.set_facecolor("#f4f6f8")
        ax.grid(True, color="white", linewidth=0.5)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()
    finally:
        plt.close(fig)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def render_pdf(data: dict[str, Any], *, printed_at: datetime) -> bytes:
    """The brief on A4 pages, Thai first with English."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("Loma", "", str(FONTS / "Loma.ttf"))
    pdf.add_font("Loma", "B", str(FONTS / "Loma-Bold.ttf"))
    pdf.set_text_shaping(True)
    pdf.set_title(f"SafeZone daily brief {data['date']}")
    pdf.set_creator("SafeZone")
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    station = data["station"]
    kpis = data["kpis"]

    def heading(th: str, en: str) -> None:
        pdf.ln(3)
        pdf.set_font("Loma", "B", 14)
        pdf.cell(width, 8, f"{th} / {en}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Loma", "", 11)

    def line(text: str) -> None:
        pdf.multi_cell(width, 6, text, new_x="LMARGIN", new_y="NEXT")

    pdf.set_font("Loma", "B", 18)
    pdf.cell(width, 10, "สรุปสถานการณ์ประจำวัน / Daily brief", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Loma", "", 12)
    line(f"{station['name_th']} ({station['name_en']}) · {data['date']}")
    zone = kpis["timezone"]
    line(f"ข้อมูลของวันที่ {data['yesterday']} ({zone}) / Figures for {data['yesterday']} ({zone})")

    heading("เหตุเมื่อวาน", "Yesterday's incidents")
    total = kpis["incidents"]["total"]
    by_category = kpis["incidents"]["by_category"]
    parts = [f"{CATEGORY_TH.get(c, c)} ({c}) {sum(v)}" for c, v in by_category.items()]
    line(f"รวม {total} เหตุ / {total} incidents" + (": " + ", ".join(parts) if parts else ""))
    line(f"เหตุ SOS / SOS: {kpis['sos']['total']}")
    for incident in data["incidents"][:25]:
        parts = [
            f"#{incident['id']} {incident['time']}",
            CATEGORY_TH.get(incident["category"], incident["category"]),
            PRIORITY_TH.get(incident["priority"], incident["priority"]),
            INCIDENT_STATUS_TH.get(incident["status"], incident["status"]),
        ]
        if incident["title"]:
            parts.append(incident["title"][:60])
        line(" · ".join(parts))
    if len(data["incidents"]) > 25:
        line(
            f"... และอีก {len(data['incidents']) - 25} เหตุ / and {len(data['incidents']) - 25} more"
        )

    heading("เวลาตอบสนอง (นาที)", "Response times (minutes), p50 / p90")
    pdf.set_font("Loma", "B", 10)
    columns = [
        ("ความสำคัญ / Priority", 45),
        ("เหตุ / n", 20),
        ("รับเรื่อง / Ack", 38),
        ("ถึงที่เกิดเหตุ / On scene", 40),
        ("ปิดเหตุ / Resolve", 37),
    ]
    for title, w in columns:
        pdf.cell(w, 7, title, border=1)
    pdf.ln()
    pdf.set_font("Loma", "", 10)
    for row in kpis["response_times"]:
        values = [
            f"{PRIORITY_TH[row['priority']]} ({row['priority']})",
            str(row["incidents"]),
            f"{_minutes(row['acknowledge_p50_s'])} / {_minutes(row['acknowledge_p90_s'])}",
            f"{_minutes(row['on_scene_p50_s'])} / {_minutes(row['on_scene_p90_s'])}",
            f"{_minutes(row['resolve_p50_s'])} / {_minutes(row['resolve_p90_s'])}",
        ]
        for value, (_, w) in zip(values, columns, strict=True):
            pdf.cell(w, 7, value, border=1)
        pdf.ln()
    line("ไม่รวมเหตุที่นำเข้าจากข้อมูลย้อนหลัง / Imported history is left out.")

    heading("การตรวจจุดสายตรวจ", "Patrol check-ins")
    totals = kpis["checkins"]["totals"]
    line(
        " · ".join(f"{STATUS_TH[s]} ({s}) {totals[s]}" for s in ("accepted", "flagged", "rejected"))
    )

    heading("การตรวจตามแผนสายตรวจ", "Patrol plan compliance")
    plans_done = kpis["compliance"]
    if plans_done["shifts"]:
        done = plans_done["totals"]
        line(
            " · ".join(
                f"{COMPLIANCE_TH[o]} ({o.replace('_', ' ')}) {done[o]}"
                for o in ("on_time", "late", "missed", "pending")
            )
            + f" · {plans_done['shifts']} ผลัด / shifts"
        )
    else:
        line("ไม่มีแผนสายตรวจในวันนั้น / No patrol plan ran that day.")

    shift = data["shift"]
    heading(
        f"จุดเสี่ยงผลัด {shift['start_time']}-{shift['end_time']}",
        f"Hotspots for the {shift['start_time']}-{shift['end_time']} shift",
    )
    props = data["hotspots"]["properties"]
    line(
        f"คาดการณ์จากเหตุ {props['events']} เหตุย้อนหลัง · คาดว่าจะเกิดราว "
        f"{data['recommendations']['expected_incidents']:.1f} เหตุในผลัดนี้ / "
        f"forecast from {props['events']} past incidents; about "
        f"{data['recommendations']['expected_incidents']:.1f} expected this shift"
    )
    image = io.BytesIO(map_png(data))
    if pdf.get_y() > pdf.h - 120:
        pdf.add_page()
    pdf.image(image, x=pdf.l_margin, w=width)
    for feature in data["hotspots"]["features"][:10]:
        p = feature["properties"]
        line(
            f"{p['rank']}. เซลล์ / cell {p['cell']}: {p['risk'] * 100:.1f} % ของความเสี่ยง / "
            f"of the risk · คาด / expected {p['expected']:.2f}"
        )

    heading("แผนตรวจที่เสนอ", "Proposed patrol plan")
    stops = data["recommendations"]["stops"]
    if not stops:
        line("ไม่มีจุดตรวจใกล้จุดเสี่ยง / No checkpoint near the risky cells.")
    for stop in stops:
        line(
            f"{stop['position'] + 1}. {stop['checkpoint_id']} {stop['name']} · "
            f"{stop['target_visits']} ครั้ง / visits · {stop['risk_share'] * 100:.0f} %"
        )
    pdf.ln(4)
    pdf.set_font("Loma", "", 8)
    pdf.set_text_color(90, 90, 90)
    line(f"SafeZone · พิมพ์เมื่อ / printed {printed_at.isoformat(timespec='minutes')}")
    return bytes(pdf.output())
