"""A4 checkpoint posters: the printed QR code, the checkpoint's name, instructions in Thai.

Thai needs a font with its glyphs and a shaping engine to stack vowels and tone marks;
the Loma font travels with the package (fonts/, GPL-2+ with the font exception) and fpdf2
shapes text with HarfBuzz (uharfbuzz), so printing needs nothing from the machine.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fpdf import FPDF

from safezone.patrol import qr

FONTS = Path(__file__).resolve().parent / "fonts"
RED = (178, 34, 34)

INSTRUCTIONS_TH = (
    "1. เปิดแอปสายตรวจ SafeZone และกด \u201cเริ่มเวร\u201d",
    "2. ยืนใกล้ป้ายนี้ (ไม่เกิน {radius} เมตร) และเปิด GPS",
    "3. สแกนคิวอาร์โค้ดด้วยโทรศัพท์ที่ลงทะเบียนกับสถานีแล้ว",
)
WARNING_TH = "คิวอาร์โค้ดนี้ใช้ได้ที่จุดตรวจนี้เท่านั้น การสแกนจากรูปถ่ายหรือจากที่อื่น จะถูกปฏิเสธและบันทึกไว้ในระบบ"
NOTE_EN = (
    "Patrol checkpoint. Officers: scan with the SafeZone officer app, on shift, within "
    "{radius} m, from your registered phone. Please do not remove or cover this poster."
)


@dataclass(frozen=True)
class Poster:
    checkpoint_id: str
    name: str
    radius_m: float
    code: str


def render(posters: Sequence[Poster], *, station_name: str, printed_at: datetime) -> bytes:
    """One A4 page per checkpoint, as PDF bytes."""
    if not posters:
        raise ValueError("no checkpoints to print")
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.add_font("Loma", "", str(FONTS / "Loma.ttf"))
    pdf.add_font("Loma", "B", str(FONTS / "Loma-Bold.ttf"))
    pdf.set_text_shaping(True)
    pdf.set_title("SafeZone checkpoint posters")
    pdf.set_creator("SafeZone")
    width = pdf.w - 2 * 15
    for poster in posters:
        radius = f"{poster.radius_m:g}"
        pdf.add_page()
        pdf.set_fill_color(*RED)
        pdf.rect(0, 0, pdf.w, 32, style="F")
        pdf.set_text_color(255, 255, 255)
        pdf.set_font("Loma", "B", 26)
        pdf.set_xy(15, 7)
        pdf.cell(width, 12, "จุดตรวจสายตรวจ  ·  ตู้แดงอิเล็กทรอนิกส์", align="C")
        pdf.set_font("Loma", "", 13)
        pdf.set_xy(15, 20)
        pdf.cell(width, 8, station_name, align="C")

        pdf.set_text_color(0, 0, 0)
        pdf.set_font("Loma", "B", 30)
        pdf.set_xy(15, 40)
        pdf.multi_cell(width, 13, poster.name or poster.checkpoint_id, align="C")
        pdf.set_font("Loma", "", 14)
        pdf.set_x(15)
        pdf.cell(width, 8, f"รหัสจุดตรวจ {poster.checkpoint_id}", align="C")

        side = 120.0
        image = io.BytesIO(qr.png(poster.code, scale=16))
        pdf.image(image, x=(pdf.w - side) / 2, y=78, w=side, h=side)

        pdf.set_xy(20, 205)
        pdf.set_font("Loma", "B", 16)
        pdf.cell(width - 10, 9, "สำหรับเจ้าหน้าที่สายตรวจ", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Loma", "", 15)
        for line in INSTRUCTIONS_TH:
            pdf.set_x(20)
            pdf.cell(width - 10, 8.5, line.format(radius=radius), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        pdf.set_x(20)
        pdf.set_text_color(*RED)
        pdf.set_font("Loma", "B", 13)
        pdf.multi_cell(width - 10, 7, WARNING_TH, align="L")
        pdf.set_text_color(90, 90, 90)
        pdf.set_font("Loma", "", 10)
        pdf.set_x(20)
        pdf.multi_cell(width - 10, 5, NOTE_EN.format(radius=radius), align="L")
        pdf.set_xy(15, pdf.h - 12)
        pdf.set_font("Loma", "", 8)
        version = code_version(poster.code)
        pdf.cell(
            width,
            5,
            f"{poster.checkpoint_id} · key v{version} · printed "
            f"{printed_at.strftime('%Y-%m-%d %H:%M UTC')} · SafeZone",
            align="C",
        )
    return bytes(pdf.output())


def code_version(code: str) -> int:
    parsed = qr.parse(code)
    if parsed is None or parsed.mode != "static":
        raise ValueError("a poster carries a static checkpoint code")
    return parsed.number
