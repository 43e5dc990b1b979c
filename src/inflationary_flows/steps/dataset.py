"""Step ``dataset``: write one dataset's train/test split to HDF5 (kind ``dataset``).

Toys are generated, digits come with sklearn, CIFAR-10, image folders and tables are read
from the user's files; images are stored as uint8 with their decoding in the ``params``
attribute.
"""

from __future__ import annotations

import argparse
import json

from ..datasets import IMAGE_KINDS, TOY_DIMS, Dataset, check_usable, make_digits, make_toy
from ..io import write_h5
from ..provenance import step_provenance
from ..tables import add_preprocessing_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="dataset name (file stem)")
    parser.add_argument("--kind", required=True, choices=[*TOY_DIMS, *IMAGE_KINDS, "table"])
    parser.add_argument("--n-train", type=int, default=20000, help="toys: training points")
    parser.add_argument("--n-test", type=int, default=10000, help="toys: held-out points")
    parser.add_argument("--embed-dim", type=int, default=0,
                        help="toys: embed in this many dims by a random orthonormal map (0: no)")
    parser.add_argument("--curvature", type=float, default=0.0,
                        help="toys: bend a 2-D set onto a cylinder of radius 1/curvature first")
    parser.add_argument("--noise", type=float, default=0.0,
                        help="toys: std of isotropic noise added after embedding")
    parser.add_argument("--test-fraction", type=float, default=0.2,
                        help="digits, image_folder, table: test share")
    parser.add_argument("--source", help="cifar10: the python tarball; image_folder: the "
                        "folder; table: file[.h5:dataset] or sklearn:<name>")
    add_preprocessing_arguments(parser, "the training split")
    parser.add_argument("--md5", default="",
                        help="cifar10: expected md5 of the tarball ('' skips the check)")
    parser.add_argument("--size", type=int, default=32, help="image_folder: side after resizing")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--output", required=True)


def build(args: argparse.Namespace) -> Dataset:
    from .. import images

    if args.kind == "digits":
        return make_digits(args.test_fraction, args.seed)
    if args.kind == "cifar10":
        return images.load_cifar10(args.source, args.md5 or None)
    if args.kind == "image_folder":
        return images.load_image_folder(args.source, args.size, args.test_fraction, args.seed)
    if args.kind == "table":
        from ..tables import load_table

        return load_table(args.source, json.loads(args.columns), args.test_fraction,
                          args.standardize, args.seed, args.transform)
    return make_toy(args.kind, args.n_train, args.n_test, args.seed, args.embed_dim or None,
                    args.curvature, args.noise)


def run(args: argparse.Namespace) -> None:
    data = build(args)
    data.name = args.name
    check_usable(data)
    arrays = {"train/x": data.train, "test/x": data.test}
    if data.train_labels is not None:
        arrays |= {"train/label": data.train_labels, "test/label": data.test_labels}
    arrays |= data.extra
    attrs = {"name": data.name, "dim": data.dim, "params": data.params,
             "image_shape": list(data.image_shape) if data.image_shape else None}
    write_h5(args.output, "dataset", arrays, attrs, step_provenance("dataset", args))
    print(f"{data.name}: train {data.train.shape}, test {data.test.shape} -> {args.output}")
