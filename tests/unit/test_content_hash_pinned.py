"""Content hashes pinned: values computed by the hashing code of 2026-12 (before it stopped
copying columns; "edges" and "hidden" by that same code, added with the change) for tables of
every kind of column. A stored dataset version's content_hash
must stay valid, so any change of the hash format fails here.
"""

from __future__ import annotations

import decimal

import numpy as np
import pyarrow as pa
import pytest

from relayml.data.canonical import canonical_table, content_hash

PINNED = {
    "numbers": "29ccd6f406897c1602d6e6eddcc3b777f22cd56a931656e6dd758091b3d21bd6",
    "other": "da4dd4373ee972a02084fa8e5039d83063a5a38bd3facf057c29c09402c50d82",
    "sliced": "75ebf256b1bc6667a709392045c151fe8cf86cbd2e12717bb9f3fbbf39955347",
    "sliced_text": "c42a11b24769d0055d4641f1d59ed972d4117e3aa2c16aa918768782c4e48d48",
    "tall": "8d100d76e615b989007f10f3e8710248d53a13d96f71cbf6d926099ec7a35c37",
    "edges": "73c8a10f1ffccd69e52951d77620558db2e1f06dc1beb3440040ca8295b221ee",
    "hidden": "81e1d65f71f5fb69d419e74f23283e313c2a1ff69e0a8bd7b57c2310a57bfeb2",
}


def pinned_tables() -> dict[str, pa.Table]:
    rng = np.random.default_rng(7)
    n = 1000
    floats = rng.normal(size=n)
    floats[[3, 10]] = np.nan
    f32 = rng.normal(size=n).astype(np.float32)
    ints = rng.integers(-(10**12), 10**12, n)
    mask = np.zeros(n, dtype=bool)
    mask[[0, 5, 999]] = True
    tables = {
        "numbers": pa.table(
            {
                "f64": pa.array(floats),
                "f64_nulls": pa.array(floats, mask=mask),
                "neg_nan": pa.array(
                    np.array([-np.nan, np.nan, 1.0, -0.0, 0.0, np.inf])[rng.integers(0, 6, n)]
                ),
                "f32": pa.array(f32),
                "i64": pa.array(ints),
                "i64_nulls": pa.array(ints, mask=mask),
                "i32": pa.array(ints.astype(np.int32)),
                "i8": pa.array(ints.astype(np.int8), mask=mask),
                "u16": pa.array(ints.astype(np.uint16)),
            }
        ),
        "other": pa.table(
            {
                "flag": pa.array([bool(x) if i % 7 else None for i, x in enumerate(ints % 2)]),
                "text": pa.array([None if i % 11 == 0 else f"v{i % 37}é" for i in range(n)]),
                "big_text": pa.array([f"w{i}" for i in range(n)], type=pa.large_string()),
                "blob": pa.array([bytes([i % 256]) * (i % 5) for i in range(n)], type=pa.binary()),
                "category": pa.array([f"c{i % 5}" for i in range(n)]).dictionary_encode(),
                "when": pa.array(ints // 1000, type=pa.timestamp("ms", tz="UTC"), mask=mask),
                "day": pa.array((ints % 20000).astype(np.int32), type=pa.date32()),
                "price": pa.array(
                    [decimal.Decimal(i) / 100 for i in range(n)], type=pa.decimal128(10, 2)
                ),
                "tags": pa.array([[i % 3] * (i % 3) for i in range(n)]),
                "nothing": pa.nulls(n),
            }
        ),
    }
    # chunked and sliced (offsets into buffers): the hash must not see the layout
    numbers = tables["numbers"]
    tables["sliced"] = pa.concat_tables([numbers.slice(1, 400), numbers.slice(401, 598)])
    texts = tables["other"].select(["text", "blob", "flag"])
    tables["sliced_text"] = pa.concat_tables([texts.slice(3, 500), texts.slice(503, 300)])
    # more rows than one hashed slice (2**20 rows)
    tall = np.arange((1 << 20) + 1234, dtype=np.int64)
    tables["tall"] = pa.table({"i": pa.array(tall), "f": pa.array(tall * 0.5, mask=tall % 97 == 0)})
    # a null slot of a string array that still holds bytes, and nulls across 64k-row blocks at
    # an offset that is not a multiple of 8
    words = pa.array([f"s{i}" for i in range(n)])
    valid = rng.random(n) > 0.3
    bitmap = pa.array(valid).buffers()[1]
    hidden = pa.Array.from_buffers(
        pa.string(), n, [bitmap, *words.buffers()[1:]], null_count=int((~valid).sum())
    )
    wide = 3 * (1 << 16) + 11
    gaps = rng.random(wide) < 0.2
    blocks = pa.table({
        "f": pa.array(rng.normal(size=wide), mask=gaps),
        "b": pa.array(rng.random(wide) < 0.5, mask=gaps),
        "s": pa.array([f"t{i % 7}" for i in range(wide)], mask=gaps),
    })  # fmt: skip
    tables["edges"] = pa.concat_tables([blocks.slice(5, 70_001), blocks.slice(70_006)])
    tables["hidden"] = pa.table({"hidden": hidden}).slice(3)
    return tables


TABLES = pinned_tables()


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_content_hash_is_the_one_stored_datasets_carry(name: str) -> None:
    assert content_hash(canonical_table(TABLES[name])) == PINNED[name]


def test_a_chunked_or_sliced_layout_hashes_as_its_contiguous_copy() -> None:
    for name in ("sliced", "sliced_text", "tall", "edges", "hidden"):
        table = TABLES[name]
        rebuilt = pa.Table.from_pylist(table.to_pylist(), schema=table.schema)
        assert content_hash(canonical_table(rebuilt)) == PINNED[name], name
