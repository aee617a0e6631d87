"""Pillow's filled-polygon rule (ImageDraw.polygon(xy, fill=255) on an "L" canvas), vectorised over many
polygons at once with numpy: the same pixels, without a Python call per polygon.

    mask = fill_polygons(vx, vy, side)          # int (m, K) vertices -> bool (m, side, side)
    count = block_coverage(vx, vy, side, 4)     # -> int (m, side/4, side/4): painted pixels per 4x4 block

The rule is Pillow's scanline filler (libImaging/Draw.c, polygon_generic, as of Pillow 10 to 13),
reproduced step by step in float32 as the C code computes it:

- integer vertices; consecutive vertices make edges, and the closing edge is added when the last vertex
  differs from the first;
- a horizontal edge (y0 == y1, a repeated vertex included) fills its pixels xmin..xmax on its row;
- each other edge crosses every row y from its ymin to its ymax at x = (y - y0) * dx + x0, with
  dx = (x1 - x0) / (y1 - y0), all in float32; a crossing at the edge's ymax row counts twice unless
  that row is the polygon's last;
- "discontiguous corners": a crossing at an end row of a slanted edge that rounds to the same pixel as
  an earlier slanted edge's crossing ending on that row is moved one pixel beyond both edges' next row
  when it lies more than a pixel outside both (the first such earlier edge decides);
- per row the crossings are sorted and paired, and each pair fills ROUND_UP(a)..ROUND_DOWN(b).

Polygons must lie on the canvas (0 <= x, y < side): the negative branch of Pillow's rounding is not
reproduced (vae.data.shapes draws shapes that leave the canvas with Pillow itself).
"""

from __future__ import annotations

import numpy as np

_F = np.float32


def _roundf(x: np.ndarray) -> np.ndarray:
    """C roundf for x >= 0 (halves away from zero), float32."""
    f = np.floor(x)
    return (f + (x - f >= _F(0.5))).astype(_F)


def _crossing_x(y, y0, dx, x0) -> np.ndarray:
    """(y - y0) * dx + x0 as Pillow computes it: int * float -> float32, + int -> float32."""
    return ((y - y0).astype(_F) * dx).astype(_F) + x0.astype(_F)


def fill_polygons(vx: np.ndarray, vy: np.ndarray, side: int) -> np.ndarray:
    """Fill m polygons of K integer vertices each on m side x side canvases, as Pillow fills them.

    vx, vy: int (m, K) vertex columns and rows, all in 0..side-1. Returns bool (m, side, side), True
    where ImageDraw.polygon(..., fill=...) paints.
    """
    m = len(vx)
    p, row, start, end = polygon_spans(vx, vy, side)
    diff = np.zeros(m * side * (side + 1), np.int32)
    base = (p * side + row) * (side + 1)
    np.add.at(diff, base + start, 1)
    np.add.at(diff, base + end + 1, -1)
    return np.cumsum(diff.reshape(m, side, side + 1), axis=2)[:, :, :side] > 0


def block_coverage(vx: np.ndarray, vy: np.ndarray, side: int, block: int) -> np.ndarray:
    """How many pixels of each block x block square fill_polygons would paint, without the canvas.

    vx, vy: int (m, K) as fill_polygons; side divisible by block. Returns int32 (m, side // block,
    side // block), 0..block**2: what Image.reduce(block) averages (Pillow: (255 * count + block**2 // 2)
    // block**2 for 0/255 pixels). Each disjoint span adds, per output column it touches, its overlap.
    """
    m, out = len(vx), side // block
    p, row, start, end = polygon_spans(vx, vy, side)
    c0, c1 = start // block, end // block
    cell = (p * out + row // block) * (out + 1)           # first-difference along output columns, + 1 slot
    one = c0 == c1
    first = np.where(one, end - start + 1, block * (c0 + 1) - start)   # overlap with the first column
    last = end - block * c1 + 1                                          # with the last (when c1 > c0)
    idx = np.concatenate([cell + c0, cell + c0 + 1,                      # first column: +first there only
                          (cell + c0 + 1)[~one], (cell + c1)[~one],      # columns strictly inside: +block
                          (cell + c1)[~one], (cell + c1 + 1)[~one]])     # last column: +last there only
    w = np.concatenate([first, -first, np.full((~one).sum(), block), np.full((~one).sum(), -block),
                        last[~one], -last[~one]])
    diff = np.bincount(idx, weights=w, minlength=m * out * (out + 1))
    return np.cumsum(diff.reshape(m, out, out + 1), axis=2)[:, :, :out].round().astype(np.int32)


def _sort_key(group: np.ndarray, x: np.ndarray) -> np.ndarray:
    """uint64 keys ordering (group, x) for int group >= 0 and float32 x: group in the high 32 bits, x's
    bits made monotone (IEEE order) in the low 32."""
    bits = x.astype(_F).view(np.uint32)
    bits = np.where(bits >> 31, ~bits, bits | np.uint32(0x80000000))
    return (group.astype(np.uint64) << np.uint64(32)) | bits.astype(np.uint64)


def polygon_spans(vx: np.ndarray, vy: np.ndarray, side: int):
    """The pixels Pillow fills for m polygons, as disjoint runs on rows: (poly, row, start, end) int64
    arrays, start <= end inclusive, 0..side-1, sorted by (poly, row, start). See fill_polygons."""
    vx, vy = np.asarray(vx, np.int64), np.asarray(vy, np.int64)
    m, k = vx.shape
    if vx.min(initial=0) < 0 or vy.min(initial=0) < 0 or vx.max(initial=0) >= side or vy.max(initial=0) >= side:
        raise ValueError("fill_polygons: every vertex must lie on the canvas")
    # edges in Pillow's order: vertex i -> i + 1, then the closing edge when the ends differ
    valid = np.ones((m, k), bool)
    valid[:, -1] = (vx[:, -1] != vx[:, 0]) | (vy[:, -1] != vy[:, 0])
    ex0, ey0 = vx[valid], vy[valid]
    ex1, ey1 = np.roll(vx, -1, axis=1)[valid], np.roll(vy, -1, axis=1)[valid]
    ep = np.broadcast_to(np.arange(m)[:, None], (m, k))[valid]
    eo = np.broadcast_to(np.arange(k)[None, :], (m, k))[valid]       # edge index within its polygon
    ymax_poly = vy.max(axis=1)                                          # (m,), already < side

    horizontal = ey0 == ey1                                             # filled on their row as they are
    h_p, h_row = ep[horizontal], ey0[horizontal]
    h_start, h_end = np.minimum(ex0, ex1)[horizontal], np.maximum(ex0, ex1)[horizontal]

    s = ~horizontal                                                     # the edge table
    ex0, ey0, ex1, ey1, ep, eo = ex0[s], ey0[s], ex1[s], ey1[s], ep[s], eo[s]
    dx = (ex1 - ex0).astype(_F) / (ey1 - ey0).astype(_F)
    eymin, eymax = np.minimum(ey0, ey1), np.maximum(ey0, ey1)
    top = ymax_poly[ep]

    # every (edge, row) crossing, plus the repeated one at an edge's last row (not the polygon's last)
    rows_per_edge = eymax - eymin + 1
    edge = np.repeat(np.arange(len(ep)), rows_per_edge)
    row = eymin[edge] + (np.arange(len(edge)) - np.repeat(np.cumsum(rows_per_edge) - rows_per_edge, rows_per_edge))
    x = _crossing_x(row, ey0[edge], dx[edge], ex0[edge])

    _connect_corners(x, edge, row, ep, eo, ey0, ex0, dx, eymin, eymax, top)

    twice = (row == eymax[edge]) & (row < top[edge])
    edge = np.concatenate([edge, edge[twice]])
    row = np.concatenate([row, row[twice]])
    x = np.concatenate([x, x[twice]])

    # sort per (polygon, row) by x, pair neighbours, fill ROUND_UP(a)..ROUND_DOWN(b)
    key = ep[edge] * side + row
    srt = np.argsort(_sort_key(key, x))
    key, x = key[srt], x[srt]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    rank = np.arange(len(key)) - np.repeat(starts, sizes)
    pair = np.flatnonzero((rank % 2 == 0) & (rank + 1 < np.repeat(sizes, sizes)))
    x_start = np.floor(x[pair] + _F(0.5)).astype(np.int64)
    x_end = np.ceil(x[pair + 1] - _F(0.5)).astype(np.int64)

    # with the horizontal edges' runs: clipped to the canvas, then made disjoint (same union)
    key = np.concatenate([key[pair], h_p * side + h_row])
    start = np.maximum(np.concatenate([x_start, h_start]), 0)
    end = np.minimum(np.concatenate([x_end, h_end]), side - 1)
    ok = start <= end
    key, start, end = key[ok], start[ok], end[ok]
    srt = np.argsort(key * (side + 1) + start, kind="stable")
    key, start, end = key[srt], start[srt], end[srt]
    # exclusive running max of the ends within each (poly, row): a run starts after what came before
    lifted = end + key * (side + 2)
    reach = np.maximum.accumulate(lifted)
    before = np.r_[-1, reach[:-1]] - key * (side + 2)                  # < 0 at a row's first run
    start = np.maximum(start, before + 1)
    ok = start <= end
    key, start, end = key[ok], start[ok], end[ok]
    return key // side, key % side, start, end


def _connect_corners(x, edge, row, ep, eo, ey0, ex0, dx, eymin, eymax, top) -> None:
    """Pillow's "connect discontiguous corners" step, in place on the crossings x (see the module doc).

    A crossing of slanted edge i on row y takes part when y is i's first row, or its last row and the
    polygon's last; candidates are the earlier slanted edges k of the polygon with an end on row y.
    """
    slanted = dx != 0
    # end events (polygon, row, edge) of slanted edges, grouped by (polygon, row)
    ev_edge = np.flatnonzero(slanted)
    ev_edge = np.concatenate([ev_edge, ev_edge])
    ev_row = np.concatenate([eymin[slanted], eymax[slanted]])
    group = ep[ev_edge] * (int(eymax.max(initial=0)) + 1) + ev_row
    srt = np.argsort(group * (int(eo.max(initial=0)) + 1) + eo[ev_edge])
    ev_edge, ev_row, group = ev_edge[srt], ev_row[srt], group[srt]
    # only rows where two or more edges end can have a corner
    shared = np.r_[False, group[1:] == group[:-1]] | np.r_[group[:-1] == group[1:], False]
    ev_edge, ev_row, group = ev_edge[shared], ev_row[shared], group[shared]
    # the crossing of each event's edge on that row: its index in x (edge-major, rows ascending)
    first_crossing = np.cumsum(eymax - eymin + 1) - (eymax - eymin + 1)
    ev_cross = first_crossing[ev_edge] + (ev_row - eymin[ev_edge])
    takes_part = (ev_row == eymin[ev_edge]) | (ev_row == top[ev_edge])
    n = len(ev_edge)
    best_k = np.full(n, -1, np.int64)                                   # the deciding earlier edge per event
    for d in range(1, n):
        i, j = np.arange(d, n), np.arange(0, n - d)                     # event i, earlier-sorted event j
        same = group[i] == group[j]
        if not same.any():
            break
        i, j = i[same], j[same]
        ki = ev_edge[j]
        y = ev_row[i]
        cur = ev_edge[i]
        offset = np.where(y == eymax[cur], -1, 1)
        ok = takes_part[i] & (_roundf(x[ev_cross[i]]) == _roundf(_crossing_x(y, ey0[ki], dx[ki], ex0[ki])))
        ok &= (y + offset >= eymin[ki]) & (y + offset <= eymax[ki])
        i, ki = i[ok], ki[ok]
        # Pillow stops at the first such k in edge order: keep the smallest
        replace = (best_k[i] < 0) | (eo[ki] < eo[np.maximum(best_k[i], 0)])
        best_k[i[replace]] = ki[replace]
    has = np.flatnonzero(best_k >= 0)
    if len(has) == 0:
        return
    cur, k, y, c = ev_edge[has], best_k[has], ev_row[has], ev_cross[has]
    offset = np.where(y == eymax[cur], -1, 1)
    adj = _crossing_x(y + offset, ey0[cur], dx[cur], ex0[cur])
    adj_other = _crossing_x(y + offset, ey0[k], dx[k], ex0[k])
    xc = x[c]
    above = (xc > adj + _F(1)) & (xc > adj_other + _F(1))
    below = ~above & (xc < adj - _F(1)) & (xc < adj_other - _F(1))
    x[c[above]] = _roundf(np.maximum(adj, adj_other)[above]) + _F(1)
    x[c[below]] = _roundf(np.minimum(adj, adj_other)[below]) - _F(1)
