"""Feature columns taken by row position into a joined frame (null where there is no row)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from relayml.features.pit_threads import in_threads

__all__ = ["take_column", "take_rows"]


def take_rows(
    source: pd.DataFrame, features: list[str], index: np.ndarray, axis: pd.Index
) -> pd.DataFrame:
    """The rows index names of the feature columns, null where it is -1. Only those rows are
    copied, column by column; float columns are taken into one block per dtype, which the frame
    holds as it is (no second copy to consolidate them)."""
    missing = index < 0
    safe = np.where(missing, 0, index) if len(source) else index
    floats: dict[np.dtype[Any], list[str]] = {}
    for name in features:
        dtype = source[name].dtype
        if isinstance(dtype, np.dtype) and dtype.kind == "f":  # NaN is their missing value
            floats.setdefault(dtype, []).append(name)
    frames = [pd.DataFrame(index=axis)] if not features else []
    for dtype, names in floats.items():
        block = np.empty((len(names), len(index)), dtype=dtype)
        if len(source):  # the columns on the cores (np.take releases the GIL)
            columns = [source[name].to_numpy() for name in names]

            def take(j: int, block: np.ndarray = block, columns: list[Any] = columns) -> None:
                np.take(columns[j], safe, out=block[j], mode="clip")  # all in range

            in_threads(take, range(len(names)))
        block[:, missing] = np.nan
        frames.append(pd.DataFrame(block.T, columns=names, index=axis, copy=False))
    taken = {name for names in floats.values() for name in names}
    others = {n: take_column(source[n], safe, missing) for n in features if n not in taken}
    if others:
        frames.append(pd.DataFrame(others, index=axis))
    out = frames[0] if len(frames) == 1 else pd.concat(frames, axis=1)
    return out if list(out.columns) == features else out[features]


def take_column(column: pd.Series, safe: np.ndarray, missing: np.ndarray) -> Any:
    """One column's rows (null where missing); integers and booleans become pandas' nullable
    types, anything else keeps its type with its own missing value."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        values = column.to_numpy()[safe] if len(column) else np.zeros(len(safe), dtype=dtype)
        array = pd.arrays.BooleanArray if dtype.kind == "b" else pd.arrays.IntegerArray
        return array(values, missing.copy())
    return column.array.take(np.where(missing, -1, safe), allow_fill=True)
