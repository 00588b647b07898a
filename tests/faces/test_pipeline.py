from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from safezone.faces.engine import Embedding, FaceEngine
from safezone.faces.matcher import Watchlist
from safezone.faces.pipeline import FramePipeline, iou
from safezone.faces.scenes import Scene, Walker, sample_face, scaled
from safezone.faces.settings import FaceSettings
from safezone.faces.worker import decode_jpeg


def walking(name: str, *, height: int = 220, seed: int = 3) -> Scene:
    return Scene(
        seed=seed,
        kind="faces",
        walkers=[Walker(scaled(sample_face(name), height), (100, 200), (12, 0))],
    )


def pipeline_for(engine: FaceEngine, watchlist: Watchlist, **overrides: object) -> FramePipeline:
    return FramePipeline(
        camera_id="CAM-1",
        engine=engine,
        watchlist=watchlist,
        settings=FaceSettings.model_validate(overrides),
    )


def _holds_arrays(value: object) -> bool:
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, dict):
        return any(_holds_arrays(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_arrays(v) for v in value)
    return hasattr(value, "__dict__") and any(_holds_arrays(v) for v in vars(value).values())


def test_an_unknown_face_leaves_no_trace(engine: FaceEngine, collins: Embedding) -> None:
    p = pipeline_for(engine, Watchlist([("wanted-1", collins)]))
    scene = walking("hopper")
    for i in range(14):
        assert p.process(scene.frame(i)) == []
        assert p.retained_images() == 0
        # The tracks hold boxes and counts only: no image, no embedding.
        assert not _holds_arrays(p._tracks)
    assert p.stats.faces >= 14 and p.stats.embeddings >= 3
    assert p.stats.candidates == 0


def test_a_watchlisted_face_is_matched_only_after_several_frames(
    engine: FaceEngine, collins: Embedding, hopper: Embedding
) -> None:
    p = pipeline_for(engine, Watchlist([("wanted-1", collins), ("missing-2", hopper)]))
    scene = walking("collins")
    found = []
    for i in range(12):
        candidates = p.process(scene.frame(i))
        if candidates:
            found.append((i, candidates))
    # Embedded on frames 0, 2 and 4 of the track (embed_every=2): three votes by frame 4.
    assert [i for i, _ in found] == [4]
    (candidate,) = found[0][1]
    assert candidate.entry_id == "wanted-1" and candidate.camera_id == "CAM-1"
    assert candidate.votes == 3
    assert candidate.similarity >= FaceSettings().match_threshold
    crop = decode_jpeg(candidate.crop_jpeg)
    frame = decode_jpeg(candidate.frame_jpeg)
    assert frame.shape == (720, 1280, 3)
    assert 100 < crop.shape[0] < 400 and crop.shape[1] < 400  # the face and a margin
    # Once confirmed, the track is not embedded or reported again.
    assert p.stats.embeddings == 3
    assert p.retained_images() == 0


def test_threshold_and_confirmations_are_configurable(
    engine: FaceEngine, collins: Embedding
) -> None:
    wl = Watchlist([("wanted-1", collins)])
    scene = walking("collins")
    strict = pipeline_for(engine, wl, match_threshold=0.999)
    assert all(strict.process(scene.frame(i)) == [] for i in range(12))
    eager = pipeline_for(engine, wl, frames_to_confirm=1)
    assert len(eager.process(scene.frame(0))) == 1
    with pytest.raises(ValidationError, match="frames_to_confirm"):
        FaceSettings(frames_to_confirm=5, max_embeddings_per_track=4)
    with pytest.raises(ValidationError):
        FaceSettings.model_validate({"match_treshold": 0.5})
    with pytest.raises(ValidationError):
        FaceSettings(match_threshold=1.5)


def test_faces_below_the_minimum_size_are_not_analysed(
    engine: FaceEngine, collins: Embedding
) -> None:
    p = pipeline_for(engine, Watchlist([("wanted-1", collins)]), min_face_px=200)
    scene = walking("collins", height=220)  # the face itself is about 90 px tall
    for i in range(6):
        assert p.process(scene.frame(i)) == []
    assert p.stats.small_faces >= 6 and p.stats.faces == 0 and p.stats.embeddings == 0


def test_motion_gating_skips_still_frames(engine: FaceEngine, collins: Embedding) -> None:
    wl = Watchlist([("wanted-1", collins)])
    still = pipeline_for(engine, wl)
    scene = Scene(seed=5, kind="static")
    for i in range(10):
        still.process(scene.frame(i))
    assert still.stats.analysed == 1 and still.stats.gated == 9  # the first frame is analysed

    traffic = pipeline_for(engine, wl)
    busy = Scene(seed=5, kind="traffic")
    for i in range(10):
        traffic.process(busy.frame(i))
    assert traffic.stats.analysed == 10 and traffic.stats.gated == 0

    ungated = pipeline_for(engine, wl, motion_min_fraction=0)
    for i in range(5):
        ungated.process(scene.frame(i))
    assert ungated.stats.analysed == 5


def test_a_face_standing_still_is_not_re_analysed(engine: FaceEngine, collins: Embedding) -> None:
    p = pipeline_for(engine, Watchlist([("wanted-1", collins)]))
    scene = Scene(
        seed=8,
        kind="faces",
        walkers=[Walker(scaled(sample_face("collins"), 220), (400, 200), (0, 0))],
    )
    frames = [scene.frame(0)] * 6  # the same picture: nothing moves at all
    for f in frames:
        p.process(f)
    assert p.stats.analysed == 1


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


def test_thresholds_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from safezone.config import Settings

    monkeypatch.setenv("SAFEZONE_FACES", '{"match_threshold": 0.55, "frames_to_confirm": 4}')
    faces = Settings(env="test").faces
    assert (faces.match_threshold, faces.frames_to_confirm) == (0.55, 4)
    assert faces.detect_width == FaceSettings().detect_width
    monkeypatch.setenv("SAFEZONE_FACES", '{"match_treshold": 0.55}')
    with pytest.raises(ValidationError, match="match_treshold"):
        Settings(env="test")
