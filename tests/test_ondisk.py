"""Rows of a matrix read from its file on demand: the same rows numpy reads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.errors import IndexCorruptError
from qa.indexfiles.ondisk import FileBytes, Rows


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    path = tmp_path_factory.mktemp("rows") / "m.npy"
    values = np.random.default_rng(0).standard_normal((97, 5)).astype(np.float32)
    np.save(path, values)
    return path, values, Rows(path, values.shape, int(np.load(path, mmap_mode="r").offset))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.integers(0, 96), max_size=40), start=st.integers(-100, 100), stop=st.integers(-100, 100), step=st.integers(1, 4))
def test_any_rows_read_are_the_rows_numpy_reads(matrix, ids, start, stop, step):
    _, values, rows = matrix
    assert np.array_equal(rows[np.array(ids, dtype=np.int64)], values[ids])
    assert np.array_equal(rows[start:stop:step], values[start:stop:step])
    for i in ids[:3]:
        assert np.array_equal(rows[i], values[i]) and np.array_equal(rows[-1 - i], values[-1 - i])


def test_a_row_past_the_end_is_refused_and_a_short_file_is_named(matrix, tmp_path):
    path, values, rows = matrix
    with pytest.raises(IndexError):
        rows[np.array([97])]
    short = tmp_path / "short.npy"
    short.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(IndexCorruptError, match="shorter than its header"):
        Rows(short, values.shape, rows._offset)[np.array([96])]
    assert FileBytes(path)[0:6] == b"\x93NUMPY" and FileBytes(path)[10**9 :] == b""
