"""Fingerprints of the user's files a rule reads (an image folder, a tarball, FID weights).

Snakemake reruns a job when an input is newer than its outputs. That misses an image added to
a label subfolder (the folder's own mtime does not change), a removed image, and a replacement
whose mtime is older than the outputs (``cp -p``, ``rsync -t``, an unpacked archive). The
rules pass :func:`fingerprint` as a param, and Snakemake reruns a job whose params changed.

Size and mtime (in ns) of every file, not a hash of the content: a hash would read AFHQv2's
gigabytes every time Snakemake builds its plan, and any real replacement changes the size or
the mtime (only restoring both to the nanosecond on purpose would escape). CIFAR-10's content
is checked by its md5 when the dataset is built.

Standard library only: the Snakefile imports this module when it is parsed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def folder_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` (hidden ones skipped), sorted: an image folder's dataset."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in
                                             p.relative_to(folder).parts))


def fingerprint(path: str | os.PathLike) -> str:
    """A digest of what is at ``path`` that changes when a file is added, removed, renamed or
    replaced: the size and mtime of a file, or the relative path, size and mtime of every
    file under a folder (those :func:`folder_files` reads). ``"missing"`` if nothing is there.
    """
    path = Path(path)
    if path.is_dir():
        entries = [(f.relative_to(path).as_posix(), f.stat()) for f in folder_files(path)]
    elif path.is_file():
        entries = [("", path.stat())]
    else:
        return "missing"
    digest = hashlib.sha256()
    for name, st in entries:
        # NUL cannot occur in a file name: no two listings give the same byte stream
        digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return f"sha256:{digest.hexdigest()}"
