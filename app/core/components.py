"""Connected components of a boolean mask (8-connected), without scipy.

QA flags and speck/hole clean-up need "which pixels belong together". scipy's ``label``
would add ~30 MB to the installer for one function, so this labels *runs* instead of
pixels: every horizontal run of True pixels is a node, runs on neighbouring rows that
touch (diagonals included) are joined, and a vectorised union-find (min-label
propagation with pointer jumping) merges them. A 1024² mask has a few thousand runs, so
this is milliseconds; cost grows with the number of runs, not of pixels.
"""

from __future__ import annotations

import numpy as np


class Components:
    """The components of a mask, kept as labelled runs; pixels are painted only when asked for.

    ``areas[i]`` is the pixel count of label i (``areas[0]`` = 0); ``labels`` paints the
    whole label image (int32, 0 = not in the mask), ``mask(keep)`` only the chosen
    labels: on a 12 MP photo, painting just the few small islands is what keeps speck
    removal cheap.
    """

    def __init__(self, shape: tuple[int, int], starts: np.ndarray, ends: np.ndarray, stride: int,
                 run_label: np.ndarray, areas: np.ndarray) -> None:
        self.shape, self.stride = shape, stride
        self.starts, self.ends, self.run_label, self.areas = starts, ends, run_label, areas
        self._labels: np.ndarray | None = None

    @property
    def count(self) -> int:
        return len(self.areas) - 1

    def _paint(self, runs: np.ndarray, values: np.ndarray, dtype: type) -> np.ndarray:
        h = self.shape[0]
        flat: np.ndarray = np.zeros(h * self.stride, dtype)
        lengths = self.ends[runs] - self.starts[runs] + 1
        if lengths.size:
            offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            flat[np.repeat(self.starts[runs], lengths) + offsets] = np.repeat(values, lengths)
        return flat.reshape(h, self.stride)[:, 1:-1]

    @property
    def labels(self) -> np.ndarray:
        if self._labels is None:
            self._labels = self._paint(np.arange(self.starts.size), self.run_label, np.int32)
        return self._labels

    def mask(self, keep: np.ndarray) -> np.ndarray:
        """Boolean image of the labels where ``keep`` (a bool per label) is True."""
        runs = np.flatnonzero(keep[self.run_label])
        return self._paint(runs, np.ones(runs.size, bool), bool)

    def pixels(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ys, xs, labels) of every pixel of the labels where ``keep`` is True, from the runs alone."""
        runs = np.flatnonzero(keep[self.run_label])
        lengths = self.ends[runs] - self.starts[runs] + 1
        offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        ys, xs = np.divmod(np.repeat(self.starts[runs], lengths) + offsets, self.stride)
        return ys, xs - 1, np.repeat(self.run_label[runs], lengths)

    def labels_at(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Labels of pixels known to be in the mask, found from the runs (nothing painted)."""
        pos = ys * self.stride + xs + 1
        return self.run_label[np.searchsorted(self.starts, pos, side="right") - 1]

    def on_border(self) -> np.ndarray:
        """Sorted labels (> 0) with a pixel on the frame of the image."""
        h, w = self.shape
        row = self.starts // self.stride
        col0, col1 = self.starts % self.stride, self.ends % self.stride  # 1..w in the padded row
        edge = (row == 0) | (row == h - 1) | (col0 == 1) | (col1 == w)
        return np.unique(self.run_label[edge])


def _runs(binary: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(start, end) flat indices (end inclusive) of each run, in a copy padded by one False column each side."""
    h, w = binary.shape
    padded = np.zeros((h, w + 2), bool)
    padded[:, 1:-1] = binary
    flat = padded.ravel().view(np.int8)
    change = np.flatnonzero(np.diff(flat))
    return change[0::2] + 1, change[1::2], w + 2


def _union(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Root (smallest member) of each of ``n`` nodes after joining every pair (a[i], b[i])."""
    parent = np.arange(n, dtype=np.int64)
    while a.size:
        pa, pb = parent[a], parent[b]
        low = np.minimum(pa, pb)
        np.minimum.at(parent, pa, low)
        np.minimum.at(parent, pb, low)
        while True:  # pointer jumping: every node points at its root
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt
        if np.array_equal(parent[a], parent[b]):
            break
    return parent


def label(binary: np.ndarray) -> Components:
    """Label the 8-connected components of ``binary``, numbered in raster order of their first pixel."""
    h, w = binary.shape
    starts, ends, stride = _runs(np.asarray(binary, bool))
    n = starts.size
    if n == 0:
        return Components((h, w), starts, ends, stride, np.zeros(0, np.int32), np.zeros(1, np.int64))
    # Runs of the previous row that touch run i (diagonally too) form one contiguous range.
    lo = np.searchsorted(ends, starts - stride - 1, side="left")
    hi = np.searchsorted(starts, ends - stride + 1, side="right")
    counts = np.maximum(hi - lo, 0)
    cur = np.repeat(np.arange(n), counts)
    offsets = np.arange(cur.size) - np.repeat(np.cumsum(counts) - counts, counts)
    prev = np.repeat(lo, counts) + offsets
    root = _union(n, cur, prev)
    roots, ids = np.unique(root, return_inverse=True)  # roots sorted = raster order
    lengths = ends - starts + 1
    areas = np.concatenate([[0], np.bincount(ids, weights=lengths, minlength=roots.size).astype(np.int64)])
    return Components((h, w), starts, ends, stride, ids.astype(np.int32) + 1, areas)
