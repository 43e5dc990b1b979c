import json
import subprocess
from pathlib import Path

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
from inflationary_flows.provenance import array_hash, provenance
from inflationary_flows.state_files import read_torch_state


def checkout_commit(package_dir: Path) -> str:
    """The commit provenance must record for code loaded from ``package_dir``, asked of git
    here: HEAD, with "+dirty" when that folder has uncommitted changes; "unknown" only where
    git cannot answer (no git, or not a checkout)."""
    def git(*args):
        return subprocess.run(["git", "-C", str(package_dir), *args], capture_output=True,
                              text=True, check=True).stdout.strip()

    try:
        head, changes = git("rev-parse", "HEAD"), git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if changes else "")


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
    import inflationary_flows

    package = Path(inflationary_flows.__file__).parent
    assert attrs["provenance"]["git_commit"] == checkout_commit(package)


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


def test_readers_reject_non_finite_values_naming_file_and_dataset(tmp_path):
    path = tmp_path / "f.h5"
    z = np.zeros((4, 3))
    z[2, 1] = np.inf
    write_h5(path, "flow", {"inflation/z": z, "n": np.array([1, 2])}, {}, {})
    with pytest.raises(FormatError) as info:
        read_h5(path, "flow")
    assert str(info.value) == (f"{path}: dataset 'inflation/z' holds non-finite values "
                               "(first inf at index [2, 1])")
    (tmp_path / "m.json").write_text('{"format_version": 1, "kind": "metrics", "ks": NaN}')
    with pytest.raises(FormatError, match="m.json: holds the non-finite number NaN$"):
        read_json(tmp_path / "m.json", "metrics")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(FormatError, match="list.json: not a JSON object"):
        read_json(tmp_path / "list.json")


def test_torch_state_reader_names_the_file_and_the_fault(tmp_path):
    import torch

    path = tmp_path / "w.pt"
    torch.save({"a": torch.ones(3), "opt": {"state": {0: {"m": torch.zeros(2)}}}}, path)
    assert torch.equal(read_torch_state(path)["a"], torch.ones(3))
    whole = path.read_bytes()
    faults = {
        "truncated": (whole[: len(whole) // 2], "not a readable torch file ("),
        "text": (b"hello", "not a readable torch file ("),
    }
    for name, (content, message) in faults.items():
        path.write_bytes(content)
        with pytest.raises(FormatError) as info:
            read_torch_state(path)
        text = str(info.value)
        assert text.startswith(f"{path}: {message}") and "\n" not in text, name
        assert "weights_only=False" not in text
    torch.save({"a": torch.ones(3), "opt": {"state": {0: {"m": torch.tensor([0, np.nan])}}}}, path)
    with pytest.raises(FormatError, match="w.pt: tensor 'opt.state.0.m' holds non-finite"):
        read_torch_state(path)
    torch.save([torch.ones(1)], path)
    with pytest.raises(FormatError, match="w.pt: holds a list, not a state dict"):
        read_torch_state(path)


def test_array_hash_tells_content_dtype_and_shape_apart():
    a = np.arange(6.0).reshape(2, 3)
    assert array_hash(a) == array_hash(a.copy()) == array_hash(np.asfortranarray(a))
    b = a.copy()
    b[1, 2] = np.nextafter(b[1, 2], 10)  # one ulp
    variants = [b, a.astype(np.float32), a.reshape(3, 2), a[:1]]
    assert len({array_hash(a), *map(array_hash, variants)}) == 5
    assert array_hash(a, a[:1]) != array_hash(a[:1], a)
