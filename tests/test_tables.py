"""Your own data: tables in every format read into the same dataset, bad tables rejected
with one line naming the file and the problem."""

import h5py
import numpy as np
import pytest

from inflationary_flows.tables import load_table, read_table, source_file, table_dim


def rows(n=40, d=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)) * [1.0, 10.0, 0.1][:d]


def write_csv(path, x, header=("a", "b", "c"), sep=","):
    lines = [sep.join(header)] if header else []
    lines += [sep.join(repr(float(v)) for v in row) for row in x]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "csv-no-header", "npy", "h5"])
def test_every_format_reads_the_same_values(tmp_path, fmt):
    x = rows()
    if fmt == "npy":
        np.save(tmp_path / "t.npy", x)
        source = str(tmp_path / "t.npy")
    elif fmt == "h5":
        with h5py.File(tmp_path / "t.h5", "w") as f:
            f["group/x"] = x
        source = f"{tmp_path / 't.h5'}:group/x"
    else:
        sep = "\t" if fmt == "tsv" else ","
        header = None if fmt == "csv-no-header" else ("a", "b", "c")
        source = str(write_csv(tmp_path / f"t.{fmt[:3]}", x, header, sep))
    values, names = read_table(source)
    np.testing.assert_array_equal(values, x)  # repr round-trips float64 exactly
    assert names == (["a", "b", "c"] if fmt in ("csv", "tsv") else ["0", "1", "2"])
    assert table_dim({"path": source}) == 3
    assert table_dim({"path": source, "columns": [0, 2]}) == 2
    assert source_file(source) == source.split(".h5:")[0] + (".h5" if fmt == "h5" else "")


def test_split_is_seeded_standardised_with_training_statistics_and_columns_picked(tmp_path):
    x = rows(50)
    path = write_csv(tmp_path / "t.csv", x)
    data = load_table(str(path), ["c", "a"], test_fraction=0.2, standardize=True, seed=3)
    assert data.train.shape == (40, 2) and data.test.shape == (10, 2)
    np.testing.assert_allclose(data.train.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(data.train.std(0), 1, rtol=1e-12)
    # undoing the z-score gives back the chosen rows of columns c and a
    mean, std = np.array(data.params["zscore_mean"]), np.array(data.params["zscore_std"])
    back = np.concatenate([data.train, data.test]) * std + mean
    np.testing.assert_allclose(np.sort(back, 0), np.sort(x[:, [2, 0]], 0), rtol=1e-12)
    again = load_table(str(path), [2, 0], 0.2, True, seed=3)
    np.testing.assert_array_equal(again.test, data.test)
    other = load_table(str(path), [2, 0], 0.2, True, seed=4)
    assert not np.array_equal(other.test, data.test)
    raw = load_table(str(path), [], 0.2, False, seed=3)
    assert "zscore_mean" not in raw.params and raw.dim == 3


def yeo_johnson_closed_form(x, lam):
    """Yeo and Johnson (2000), eq. 2.1."""
    pos = x >= 0
    out = np.empty_like(x)
    out[pos] = np.log1p(x[pos]) if lam == 0 else ((x[pos] + 1) ** lam - 1) / lam
    out[~pos] = (-np.log1p(-x[~pos]) if lam == 2
                 else -((1 - x[~pos]) ** (2 - lam) - 1) / (2 - lam))
    return out


def profile_log_likelihood(x, lam):
    """Gaussian log-likelihood of the transformed column at its own mean and variance, plus
    the log-Jacobian (lam - 1) sum sign(x) log(|x| + 1), up to constants."""
    y = yeo_johnson_closed_form(x, lam)
    return -len(x) / 2 * np.log(y.var()) + (lam - 1) * (np.sign(x) * np.log1p(np.abs(x))).sum()


def test_yeo_johnson_is_the_closed_form_at_the_maximum_likelihood_exponents(tmp_path):
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.lognormal(0.0, 0.8, 200), rng.normal(0, 1, 200) ** 3,
                         np.full(200, 4.0)])  # right-skewed, heavy-tailed, constant
    path = tmp_path / "t.npy"
    np.save(path, x)
    data = load_table(str(path), [], 0.25, standardize=False, seed=1, transform="yeo-johnson")
    lambdas = data.params["yeo_johnson_lambdas"]
    assert lambdas[2] is None  # the constant column is left as it is
    order = np.random.default_rng(1).permutation(200)
    train, test = x[order[50:]], x[order[:50]]
    for col in (0, 1):
        lam = lambdas[col]
        np.testing.assert_allclose(data.train[:, col], yeo_johnson_closed_form(train[:, col], lam),
                                   rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(data.test[:, col], yeo_johnson_closed_form(test[:, col], lam),
                                   rtol=1e-10, atol=1e-14)
        best = profile_log_likelihood(train[:, col], lam)
        assert all(profile_log_likelihood(train[:, col], lam + d) < best for d in (-0.05, 0.05))
    np.testing.assert_array_equal(data.train[:, 2], 4.0)
    assert lambdas[0] < 1 and abs(float(np.mean(data.train[:, 0] - np.median(data.train[:, 0])))) \
        < abs(float(np.mean(train[:, 0] - np.median(train[:, 0]))))  # less skewed
    with pytest.raises(ValueError, match="t.npy: unknown transform 'log'"):
        load_table(str(path), [], 0.25, False, seed=1, transform="log")


def test_a_table_scikit_learn_ships_reads_without_download():
    x, names = read_table("sklearn:breast_cancer")
    assert x.shape == (569, 30) and names[0] == "mean radius"
    assert source_file("sklearn:breast_cancer") is None


def bad_tables(tmp_path):
    """(source, columns, expected message) for each fault a user meets."""
    good = rows()
    nan = good.copy()
    nan[4, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "flat.npy", np.ones((30, 3)))
    np.save(tmp_path / "vector.npy", np.arange(5.0))
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f["x"] = good
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    (tmp_path / "text.csv").write_text("a,b,c\n1,2,3\n abc ,2,3\n" + "4,5,6\n" * 30)
    return [
        (str(tmp_path / "absent.csv"), [], f"{tmp_path / 'absent.csv'}: no such file"),
        (str(tmp_path / "text.csv"), [], "column 'a' is not numeric (row 3: 'abc')"),
        (str(tmp_path / "nan.npy"), [], "NaN or infinity in column(s) '1'"),
        (str(write_csv(tmp_path / "few.csv", good[:5])), [], "5 rows are too few for 3 columns"),
        (str(tmp_path / "flat.npy"), [], "every column is constant"),
        (str(tmp_path / "vector.npy"), [], "expected a 2-D numeric array"),
        (str(tmp_path / "ragged.csv"), [], "row 3 has 1 fields, the table 2"),
        (f"{tmp_path / 't.h5'}:y", [], "no dataset 'y' (give path.h5:<dataset>; it holds x)"),
        (str(write_csv(tmp_path / "good.csv", good)), ["z"], "no column 'z' (it has 3: a, b, c)"),
        (str(write_csv(tmp_path / "t.xlsx", good)), [], "unknown table format '.xlsx'"),
        ("sklearn:iris2", [], "sklearn:iris2: unknown table"),
    ]


def test_bad_tables_are_rejected_in_one_line_naming_the_file(tmp_path):
    for source, columns, message in bad_tables(tmp_path):
        with pytest.raises(ValueError) as info:
            load_table(source, columns, 0.2, True, seed=0)
        text = str(info.value)
        assert message in text and "\n" not in text, (source, text)
        assert text.startswith(source.split(":")[0] if "sklearn" in source
                               else source.split(".h5:")[0].removesuffix(".h5")), text
