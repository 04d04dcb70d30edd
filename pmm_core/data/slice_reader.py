"""One slice of a cached `.npy` array, read through a descriptor held only for the read.

Training draws slices from every case of every site in random order. Memory-mapping each case
once and keeping it would hold a file descriptor per array for the life of the process (2-3 per
case: past the 1,024 of a default Linux login at BraTS size, 1,251 cases, in every DataLoader
worker), and a bounded set of maps re-opened on demand pays numpy's header parsing and an mmap
per case switch (0.6x the slices/s, `bench/open_cases`). Here each file's header is parsed once
(its offset, shape and dtype kept), and a slice is one `open`, `pread`, `close`: no descriptor
outlives a read, and the rate stays within a few percent of keeping every map open.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from pmm_core.errors import PmmError


@dataclass(frozen=True)
class NpyLayout:
    """Where a C-ordered `.npy` array's data starts, its shape and dtype."""

    offset: int
    shape: tuple[int, ...]
    dtype: np.dtype

    @classmethod
    def of(cls, path: Path) -> "NpyLayout":
        with open(path, "rb") as handle:
            version = npy_format.read_magic(handle)
            read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, fortran_order, dtype = read_header(handle)
            if fortran_order or dtype.hasobject:
                raise PmmError(f"{path}: not a cached array pmm wrote; run `pmm prepare --force` for its site")
            return cls(handle.tell(), tuple(shape), dtype)

    @property
    def slice_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize


class SliceReader:
    """Reads slices of cached arrays, each file's layout parsed once per process."""

    def __init__(self) -> None:
        self._layouts: dict[Path | str, NpyLayout] = {}

    def layout(self, path: Path | str) -> NpyLayout:
        if path not in self._layouts:
            self._layouts[path] = NpyLayout.of(path)
        return self._layouts[path]

    def read(self, path: Path | str, index: int) -> np.ndarray:
        """Slice `index` (along the first axis) of the array in `path`."""
        layout = self.layout(path)
        size = layout.slice_bytes
        descriptor = os.open(path, os.O_RDONLY)
        try:
            data = os.pread(descriptor, size, layout.offset + index * size)
        finally:
            os.close(descriptor)
        if len(data) != size:
            raise PmmError(f"{path}: slice {index} is cut short (the file is truncated); run `pmm prepare --force`")
        return np.frombuffer(data, layout.dtype).reshape(layout.shape[1:])
