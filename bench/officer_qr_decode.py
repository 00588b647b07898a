"""The officer app's QR decoding in the browser: jsQR (the vendored fallback where the
browser has no BarcodeDetector) on one camera frame as the app scans it (scaled to 720 px
wide), in Debian's headless Chromium.

Times N decodes of a frame holding a printed checkpoint code (QR error correction M,
7 px per module, as the poster) and N of a frame without one (what most frames are while
the officer aims). Each decode includes reading the frame's pixels (getImageData), as in
the app. Prints one JSON line. Usage:
    python bench/officer_qr_decode.py [--frames 200]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
from pathlib import Path
from typing import Any

import segno
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
JSQR = ROOT / "src" / "safezone" / "web" / "static" / "vendor" / "jsqr" / "jsQR.js"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
CODE = "SZ1:S:CP-001:1:3BA614C43840C6758433EC10DCD6BCFE"  # docs/checkpoints.md test vector
WIDTH, HEIGHT = 720, 405

DECODE = """async ([url, frames, width, height]) => {
  const img = new Image();
  img.src = url;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  const run = (withCode) => {
    g.fillStyle = "#ebebeb";
    g.fillRect(0, 0, width, height);
    if (withCode) g.drawImage(img, (width - img.width) / 2, (height - img.height) / 2);
    const times = [];
    let text = null;
    for (let i = 0; i < frames; i++) {
      const t0 = performance.now();
      const pixels = g.getImageData(0, 0, width, height);
      const found = jsQR(pixels.data, width, height, { inversionAttempts: "dontInvert" });
      times.push(performance.now() - t0);
      text = found ? found.data : null;
    }
    return { times, text };
  };
  return { found: run(true), blank: run(false) };
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(q * len(ordered))) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    buffer = io.BytesIO()
    segno.make(CODE, error="m").save(buffer, kind="png", scale=7, border=4)
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.add_script_tag(path=str(JSQR))
            result: dict[str, Any] = page.evaluate(DECODE, [url, args.frames, WIDTH, HEIGHT])
        finally:
            browser.close()
    if result["found"]["text"] != CODE or result["blank"]["text"] is not None:
        raise SystemExit(f"decoding went wrong: {result['found']['text']!r}")
    warm = max(1, args.frames // 10)  # the first decodes include the JIT warming up
    found = result["found"]["times"][warm:]
    blank = result["blank"]["times"][warm:]
    print(
        json.dumps(
            {
                "frame": f"{WIDTH}x{HEIGHT}",
                "frames": args.frames,
                "with_code_p50_ms": round(statistics.median(found), 1),
                "with_code_p90_ms": round(percentile(found, 0.9), 1),
                "no_code_p50_ms": round(statistics.median(blank), 1),
                "no_code_p90_ms": round(percentile(blank, 0.9), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
