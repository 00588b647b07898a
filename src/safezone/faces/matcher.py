"""1:N search of a face embedding against the watchlist, in numpy.

Every embedding is L2-normalised, so a cosine similarity is one dot product and the whole
watchlist is one matrix-vector product: a few microseconds for hundreds of entries.
An entry may hold several embeddings (one per enrolment photo); it scores its best one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from safezone.faces.engine import EMBEDDING_SIZE, Embedding, l2_normalise


@dataclass(frozen=True)
class Hit:
    entry_id: str
    similarity: float


class Watchlist:
    """The embeddings of the people being looked for, searchable by cosine similarity."""

    def __init__(self, items: Iterable[tuple[str, npt.NDArray[np.floating]]] = ()) -> None:
        self._ids: list[str] = []
        self._matrix: npt.NDArray[np.float32] = np.zeros((0, EMBEDDING_SIZE), np.float32)
        self.replace(items)

    def replace(self, items: Iterable[tuple[str, npt.NDArray[np.floating]]]) -> None:
        """Load a whole new set of (entry id, embedding) pairs at once."""
        ids: list[str] = []
        rows: list[Embedding] = []
        for entry_id, embedding in items:
            ids.append(entry_id)
            rows.append(self._check(embedding))
        self._ids = ids
        self._matrix = np.stack(rows) if rows else np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)

    def add(self, entry_id: str, embedding: npt.NDArray[np.floating]) -> None:
        self._ids.append(entry_id)
        self._matrix = np.vstack([self._matrix, self._check(embedding)[None, :]])

    def remove(self, entry_id: str) -> None:
        """Forget every embedding of one entry."""
        keep = [i for i, e in enumerate(self._ids) if e != entry_id]
        self._ids = [self._ids[i] for i in keep]
        self._matrix = self._matrix[keep]

    @property
    def entry_ids(self) -> set[str]:
        return set(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def search(self, embedding: npt.NDArray[np.floating]) -> Hit | None:
        """The entry most similar to ``embedding``, or None on an empty watchlist."""
        if not self._ids:
            return None
        scores = self._matrix @ self._check(embedding)
        best = int(np.argmax(scores))
        return Hit(entry_id=self._ids[best], similarity=float(scores[best]))

    @staticmethod
    def _check(embedding: npt.NDArray[np.floating]) -> Embedding:
        v = np.asarray(embedding).reshape(-1)
        if v.shape[0] != EMBEDDING_SIZE:
            raise ValueError(f"an embedding has {EMBEDDING_SIZE} numbers, not {v.shape[0]}")
        if not np.all(np.isfinite(v)):
            raise ValueError("an embedding must hold finite numbers")
        return l2_normalise(v)
