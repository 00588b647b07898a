/* Reading a checkpoint's QR code with the phone's camera, in the browser.
 *
 * The back camera (getUserMedia, facingMode "environment") plays in a <video>; a few
 * times a second a frame is decoded with the browser's BarcodeDetector where it exists
 * and reads QR codes, otherwise with the vendored jsQR (static/vendor/jsqr). Nothing
 * leaves the phone but the decoded text. Without a camera (or without permission) the
 * caller shows the error and the officer types the code instead.
 *
 * SZ.scanner.start(video, onCode) resolves once the camera plays and rejects with an
 * Error whose `code` is "no_camera", "denied" or "failed"; onCode(text) is called once,
 * for the first code read, and the camera is then stopped. SZ.scanner.stop() stops it.
 */
(function () {
  "use strict";

  const SZ = (window.SZ = window.SZ || {});
  const EVERY_MS = 200;
  const MAX_SIDE = 720;

  let stream = null;
  let timer = null;
  let detector = null;
  let canvas = null;

  async function makeDetector() {
    if (!("BarcodeDetector" in window)) return null;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    } catch (err) {
      return null;
    }
  }

  function failure(code, cause) {
    const err = new Error(code);
    err.code = code;
    err.cause = cause;
    return err;
  }

  /** The text of a QR code in the video's current frame, or null. */
  async function decode(video) {
    if (video.readyState < 2 || !video.videoWidth) return null;
    if (detector) {
      const found = await detector.detect(video);
      return found.length ? found[0].rawValue : null;
    }
    if (typeof window.jsQR !== "function") return null;
    const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
    const width = Math.round(video.videoWidth * scale);
    const height = Math.round(video.videoHeight * scale);
    canvas = canvas || document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const g = canvas.getContext("2d", { willReadFrequently: true });
    g.drawImage(video, 0, 0, width, height);
    const image = g.getImageData(0, 0, width, height);
    const code = window.jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
    return code && code.data ? code.data : null;
  }

  function stop() {
    clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
  }

  async function start(video, onCode) {
    stop();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw failure("no_camera");
    detector = detector || (await makeDetector());
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (err) {
      const denied = err && (err.name === "NotAllowedError" || err.name === "SecurityError");
      const missing = err && (err.name === "NotFoundError" || err.name === "OverconstrainedError");
      throw failure(denied ? "denied" : missing ? "no_camera" : "failed", err);
    }
    video.srcObject = stream;
    await video.play();
    const mine = stream;
    const tick = async () => {
      if (stream !== mine) return;
      let text = null;
      try {
        text = await decode(video);
      } catch (err) {
        text = null;
      }
      if (stream !== mine) return;
      if (text) {
        stop();
        onCode(text.trim());
        return;
      }
      timer = setTimeout(tick, EVERY_MS);
    };
    timer = setTimeout(tick, EVERY_MS);
  }

  SZ.scanner = { start, stop, running: () => stream !== null };
})();
