"""Face fixtures: one engine per test session (loading the ONNX models takes a moment)."""

from __future__ import annotations

import pytest

from safezone.faces.engine import Embedding, FaceEngine
from safezone.faces.scenes import sample_face


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    return FaceEngine()


@pytest.fixture(scope="session")
def collins(engine: FaceEngine) -> Embedding:
    return engine.embed_photo(sample_face("collins"))


@pytest.fixture(scope="session")
def hopper(engine: FaceEngine) -> Embedding:
    return engine.embed_photo(sample_face("hopper"))
