import json

import h5py
import numpy as np
import pytest

from inflationary_flows.io import (
    FormatError,
    atomic_path,
    read_csv,
    read_h5,
    read_json,
    write_csv,
    write_h5,
    write_json,
)
from inflationary_flows.provenance import provenance


def test_h5_round_trip_with_provenance(tmp_path):
    path = tmp_path / "a.h5"
    prov = provenance("unit", {"seed": 3})
    write_h5(path, "thing", {"g/x": np.arange(6.0).reshape(2, 3)}, {"name": "a", "p": {"k": 1}},
             prov)
    arrays, attrs = read_h5(path, "thing", required=["g/x"])
    np.testing.assert_array_equal(arrays["g/x"], np.arange(6.0).reshape(2, 3))
    assert attrs["name"] == "a" and attrs["p"] == {"k": 1}
    assert attrs["provenance"]["params"] == {"seed": 3}
    assert len(attrs["provenance"]["params_hash"]) == 16
    assert attrs["provenance"]["git_commit"]


def test_readers_reject_wrong_kind_version_and_missing_data(tmp_path):
    path = tmp_path / "a.h5"
    write_h5(path, "thing", {"x": np.zeros(2)}, {}, {})
    with pytest.raises(FormatError, match="expected a 'other' file"):
        read_h5(path, "other")
    with pytest.raises(FormatError, match="missing dataset\\(s\\) y"):
        read_h5(path, "thing", required=["y"])
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(FormatError, match="format version 99"):
        read_h5(path, "thing")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(FormatError, match="not a readable HDF5"):
        read_h5(tmp_path / "junk.h5", "thing")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_json_and_csv(tmp_path):
    write_json(tmp_path / "m.json", {"kind": "metrics", "value": np.float64(1.5)})
    assert read_json(tmp_path / "m.json", "metrics")["value"] == 1.5
    with pytest.raises(FormatError, match="expected a 'other'"):
        read_json(tmp_path / "m.json", "other")
    write_csv(tmp_path / "t.csv", [{"a": 1, "b": 2}], {"step": "x"})
    assert read_csv(tmp_path / "t.csv") == [{"a": "1", "b": "2"}]
    first = (tmp_path / "t.csv").read_text().splitlines()[0]
    assert json.loads(first.removeprefix("# provenance: "))["step"] == "x"
