"""Fingerprints of the user's files: every change the workflow must notice changes them."""

import os

from image_fixtures import write_png_folder

from inflationary_flows.sources import fingerprint, folder_files


def test_folder_fingerprint_changes_with_every_change_of_its_files(tmp_path):
    folder = tmp_path / "pets"
    write_png_folder(folder)
    seen = {fingerprint(folder)}

    def changed():
        now = fingerprint(folder)
        assert now not in seen, "fingerprint unchanged"
        seen.add(now)

    assert fingerprint(folder) in seen  # same files: same fingerprint
    (folder / "dog" / "003.png").write_bytes((folder / "dog" / "000.png").read_bytes())
    changed()  # added in a label subfolder (the folder's own mtime stays)
    cat = folder / "cat" / "000.png"
    old = cat.stat()
    cat.write_bytes(cat.read_bytes() + b"\0")
    os.utime(cat, ns=(old.st_atime_ns, old.st_mtime_ns - 10**12))
    changed()  # replaced, with an mtime older than before
    (folder / "cat" / "001.png").unlink()
    changed()  # removed
    (folder / "cat" / "002.png").rename(folder / "cat" / "009.png")
    changed()  # renamed
    (folder / ".DS_Store").write_bytes(b"x")
    (folder / "cat" / ".hidden.png").write_bytes(b"x")
    assert fingerprint(folder) in seen  # hidden files are not read, so they do not count
    assert ".hidden.png" not in {p.name for p in folder_files(folder)}


def test_file_fingerprint_and_missing_path(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(b"a" * 10)
    first = fingerprint(path)
    assert first.startswith("sha256:") and fingerprint(path) == first
    mtime = path.stat().st_mtime_ns
    path.write_bytes(b"b" * 10)
    os.utime(path, ns=(mtime, mtime - 10**9))  # same size, older mtime: cp -p of another file
    assert fingerprint(path) != first
    assert fingerprint(tmp_path / "none") == "missing"
