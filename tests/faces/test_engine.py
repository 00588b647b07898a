from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from safezone.faces import engine as engine_module
from safezone.faces.engine import (
    DETECTOR_FILE,
    RECOGNIZER_FILE,
    WEIGHT_SHA256,
    Embedding,
    FaceEngine,
    ModelIntegrityError,
    sha256_of,
    weights_dir,
)
from safezone.faces.matcher import Watchlist
from safezone.faces.scenes import sample_face


def test_installed_weights_have_the_pinned_digests() -> None:
    folder = weights_dir()
    for name, digest in WEIGHT_SHA256.items():
        assert sha256_of(folder / name) == digest


def _copy_weights(tmp_path: Path) -> Path:
    for name in (DETECTOR_FILE, RECOGNIZER_FILE):
        shutil.copyfile(weights_dir() / name, tmp_path / name)
    return tmp_path


def test_a_changed_weight_file_is_refused(tmp_path: Path) -> None:
    folder = _copy_weights(tmp_path)
    FaceEngine(model_dir=folder)  # intact copies load
    with (folder / RECOGNIZER_FILE).open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        FaceEngine(model_dir=folder)


def test_a_missing_weight_file_is_refused(tmp_path: Path) -> None:
    folder = _copy_weights(tmp_path)
    (folder / DETECTOR_FILE).unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        FaceEngine(model_dir=folder)


def test_a_wrong_pinned_digest_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(engine_module.WEIGHT_SHA256, DETECTOR_FILE, "0" * 64)
    with pytest.raises(ModelIntegrityError):
        FaceEngine()


def test_embeddings_are_unit_length_and_tell_people_apart(
    engine: FaceEngine, collins: Embedding, hopper: Embedding
) -> None:
    assert collins.shape == (128,)
    assert np.linalg.norm(collins) == pytest.approx(1.0, abs=1e-5)
    # Same person, a different scale and a mirror image: still close.
    photo = sample_face("collins")
    again = engine.embed_photo(np.ascontiguousarray(photo[:, ::-1]))
    assert float(again @ collins) > 0.6
    assert float(collins @ hopper) < 0.3


def test_a_photo_without_a_face_is_refused(engine: FaceEngine) -> None:
    blank = np.full((300, 300, 3), 128, np.uint8)
    with pytest.raises(ValueError, match="no face"):
        engine.embed_photo(blank)


def test_watchlist_search_is_cosine_over_normalised_embeddings(
    collins: Embedding, hopper: Embedding
) -> None:
    wl = Watchlist([("A", collins * 7.0)])  # any scale: stored normalised
    wl.add("B", hopper)
    hit = wl.search(collins)
    assert hit is not None and hit.entry_id == "A"
    assert hit.similarity == pytest.approx(1.0, abs=1e-5)
    assert wl.search(hopper * 0.1) is not None
    wl.remove("A")
    assert wl.entry_ids == {"B"}
    hit = wl.search(collins)
    assert hit is not None and hit.entry_id == "B" and hit.similarity < 0.3
    assert Watchlist().search(collins) is None
    with pytest.raises(ValueError, match="128"):
        wl.add("C", np.ones(64, np.float32))
    with pytest.raises(ValueError):
        wl.add("C", np.zeros(128, np.float32))
