"""Road distances for unit ranking, from a road network given as GeoJSON lines.

A station may configure ``SAFEZONE_ROAD_GRAPH`` (a GeoJSON FeatureCollection of LineString
or MultiLineString roads, e.g. exported from OpenStreetMap). Vertices that share
coordinates (to 6 decimals, about 10 cm) are the same junction. A feature with
``"oneway": true`` (or "yes"/"1") is driven only in its drawing direction. Without a graph,
ranking uses straight lines (see ``patrol.service.rank_available``).
"""

from __future__ import annotations

import heapq
import json
import math
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from safezone.core.geo import haversine_m

Node = tuple[float, float]  # (lat, lon), rounded
# Road metres from each reachable node to a target point's nearest node, and that point's
# own distance from its nearest node.
Distances = tuple[dict[Node, float], float]
# Junctions are bucketed in cells of this many degrees (about 1 km) for the nearest lookup.
_CELL_DEG = 0.01


class RoadGraphError(ValueError):
    """The road file cannot be used; the message says where and why."""


class RoadGraph:
    def __init__(self, lines: list[tuple[list[Node], bool]]) -> None:
        # Edges are kept reversed (to -> from): ranking searches outward from the incident.
        self._into: dict[Node, list[tuple[Node, float]]] = defaultdict(list)
        self._cells: dict[tuple[int, int], list[Node]] = defaultdict(list)
        nodes: set[Node] = set()
        for points, oneway in lines:
            for a, b in zip(points, points[1:], strict=False):
                if a == b:
                    continue
                length = haversine_m(a[0], a[1], b[0], b[1])
                self._into[b].append((a, length))
                if not oneway:
                    self._into[a].append((b, length))
                nodes.update((a, b))
        if not nodes:
            raise RoadGraphError("the road file has no usable line")
        for node in nodes:
            self._cells[self._cell(node)].append(node)
        self.node_count = len(nodes)

    @staticmethod
    def _cell(node: Node) -> tuple[int, int]:
        return (math.floor(node[0] / _CELL_DEG), math.floor(node[1] / _CELL_DEG))

    def nearest(self, lat: float, lon: float) -> tuple[Node, float]:
        """The closest junction or vertex, and how far it is (metres)."""
        cy, cx = self._cell((lat, lon))
        width_m = _CELL_DEG * 111_195.0 * max(0.01, math.cos(math.radians(lat)))
        best: tuple[Node, float] | None = None
        ring = 0
        while True:
            for dy in range(-ring, ring + 1):
                for dx in range(-ring, ring + 1):
                    if max(abs(dy), abs(dx)) != ring:
                        continue
                    for node in self._cells.get((cy + dy, cx + dx), ()):
                        d = haversine_m(lat, lon, node[0], node[1])
                        if best is None or d < best[1]:
                            best = (node, d)
            # Anything not yet searched is at least `ring` whole cells away.
            if best is not None and best[1] <= ring * width_m:
                return best
            ring += 1
            if ring > 400:  # nothing within ~400 km: the closest found, if any
                if best is None:
                    raise RoadGraphError("no road near this point")
                return best

    def distances_to(self, lat: float, lon: float) -> Distances:
        """Road metres from every reachable node to the node nearest the point (Dijkstra
        on reversed edges), and the point's own distance from that node."""
        target, snap = self.nearest(lat, lon)
        best: dict[Node, float] = {target: 0.0}
        queue: list[tuple[float, Node]] = [(0.0, target)]
        while queue:
            dist, node = heapq.heappop(queue)
            if dist > best.get(node, math.inf):
                continue
            for previous, length in self._into.get(node, ()):
                candidate = dist + length
                if candidate < best.get(previous, math.inf):
                    best[previous] = candidate
                    heapq.heappush(queue, (candidate, previous))
        return best, snap

    def route_m(self, distances: Distances, lat: float, lon: float) -> float | None:
        """Metres by road from (lat, lon) to the point ``distances`` was made for, walking
        straight to and from the nearest road; None when no road connects them."""
        table, target_snap = distances
        start, snap = self.nearest(lat, lon)
        road = table.get(start)
        if road is None:
            return None
        return snap + road + target_snap


def _oneway(value: Any) -> bool:
    return value is True or str(value).lower() in ("yes", "true", "1")


def parse(collection: Any, *, source: str = "road file") -> RoadGraph:
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise RoadGraphError(f"{source}: must be a GeoJSON FeatureCollection")
    lines: list[tuple[list[Node], bool]] = []
    for index, feature in enumerate(collection.get("features") or []):
        geometry = (feature or {}).get("geometry") or {}
        kind = geometry.get("type")
        if kind not in ("LineString", "MultiLineString"):
            continue  # points and areas in an OSM export are not roads
        parts = (
            [geometry.get("coordinates")] if kind == "LineString" else geometry.get("coordinates")
        )
        oneway = _oneway(((feature or {}).get("properties") or {}).get("oneway"))
        for part in parts or []:
            points: list[Node] = []
            for position in part or []:
                try:
                    lon, lat = float(position[0]), float(position[1])
                except (TypeError, ValueError, IndexError) as exc:
                    raise RoadGraphError(
                        f"{source}: feature {index} has a malformed position {position!r}"
                    ) from exc
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    raise RoadGraphError(
                        f"{source}: feature {index} has a position outside lon/lat range "
                        "(GeoJSON order is lon, lat)"
                    )
                points.append((round(lat, 6), round(lon, 6)))
            if len(points) >= 2:
                lines.append((points, oneway))
    return RoadGraph(lines)


_cache: dict[tuple[str, int, int], RoadGraph] = {}
_lock = threading.Lock()


def load(path: Path) -> RoadGraph:
    """The graph in a GeoJSON file, read once per file version."""
    try:
        info = path.stat()
        stamp = (str(path.resolve()), info.st_mtime_ns, info.st_size)
    except OSError as exc:
        raise RoadGraphError(f"{path}: cannot read the road file ({exc.strerror})") from exc
    with _lock:
        graph = _cache.get(stamp)
        if graph is None:
            try:
                collection = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise RoadGraphError(f"{path}: not valid JSON (line {exc.lineno})") from exc
            graph = parse(collection, source=str(path))
            _cache.clear()
            _cache[stamp] = graph
        return graph
