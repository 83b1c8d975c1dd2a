"""Data sets the training loops use: what ships with scikit-learn, or what the user has on disk.

- ``digits``: scikit-learn's bundled handwritten digits (1,797 real 8x8 images, no download),
  upsampled to 32x32 RGB: the default task a CPU trains in minutes.
- ``image_folder``: one subfolder per class of image files, resized to the model's input.
- ``cifar10``: the CIFAR-10 "python version" batches (data_batch_1..5, test_batch).

Each returns (train, test) TensorDatasets of normalised float images and integer labels. A
missing or unreadable path is an InputError naming it.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from testbed.errors import InputError

__all__ = ["DataRef", "digits", "image_folder", "cifar10", "load_data", "hold_out"]

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm"}


def _split(x: torch.Tensor, y: torch.Tensor, test_share: float, seed: int) -> tuple[TensorDataset, TensorDataset]:
    """A stratified, seeded train / test split."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for c in np.unique(y.numpy()):
        idx = np.flatnonzero(y.numpy() == c)
        test[rng.choice(idx, int(round(test_share * len(idx))), replace=False)] = True
    return TensorDataset(x[~test], y[~test]), TensorDataset(x[test], y[test])


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - x.mean(dim=(0, 2, 3), keepdim=True)) / x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)


def digits(size: int = 32, test_share: float = 0.2, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    return _split(_normalise(x), torch.tensor(d.target, dtype=torch.long), test_share, seed)


def image_folder(path: str | Path, size: int = 32, test_share: float = 0.2, seed: int = 0):
    from PIL import Image, UnidentifiedImageError

    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root}: image folder not found")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise InputError(f"{root}: needs one subfolder per class (at least 2), found {len(classes)}")
    images, labels = [], []
    for label, c in enumerate(classes):
        for f in sorted((root / c).iterdir()):
            if f.suffix.lower() not in _IMAGE_SUFFIXES:
                continue
            try:
                img = Image.open(f).convert("RGB").resize((size, size))
            except (UnidentifiedImageError, OSError) as exc:
                raise InputError(f"{f}: unreadable image ({exc.__class__.__name__})") from None
            images.append(np.asarray(img, dtype=np.float32) / 255.0)
            labels.append(label)
    if not images:
        raise InputError(f"{root}: no images ({', '.join(sorted(_IMAGE_SUFFIXES))}) in its class folders")
    x = torch.tensor(np.stack(images)).permute(0, 3, 1, 2)
    return _split(_normalise(x), torch.tensor(labels), test_share, seed)


def cifar10(path: str | Path) -> tuple[TensorDataset, TensorDataset]:
    root = Path(path)

    def batch(name):
        f = root / name
        if not f.is_file():
            raise InputError(f"{f}: CIFAR-10 batch not found (expected data_batch_1..5 and test_batch)")
        try:
            with open(f, "rb") as fh:
                d = pickle.load(fh, encoding="bytes")
            x = torch.tensor(np.asarray(d[b"data"], np.float32).reshape(-1, 3, 32, 32) / 255.0)
            return x, torch.tensor(d[b"labels"], dtype=torch.long)
        except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError) as exc:
            raise InputError(f"{f}: not a CIFAR-10 python batch ({exc.__class__.__name__})") from None

    parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = batch("test_batch")
    x_train = torch.cat([p[0] for p in parts])
    mean, std = x_train.mean(dim=(0, 2, 3), keepdim=True), x_train.std(dim=(0, 2, 3), keepdim=True)
    return (TensorDataset((x_train - mean) / std, torch.cat([p[1] for p in parts])),
            TensorDataset((x_test - mean) / std, y_test))


def hold_out(data: TensorDataset, share: float, seed: int) -> tuple[TensorDataset, TensorDataset]:
    """A stratified, seeded split of a training set into (fit, held-out)."""
    return _split(*data.tensors, share, seed)


@dataclass(frozen=True)
class DataRef:
    """A data set as a user names it: ``digits``, ``cifar10:PATH`` or an image-folder path
    (paths relative to ``base_dir``: a scenario's folder, or the working directory)."""

    kind: Literal["digits", "cifar10", "folder"]
    path: Path | None = None

    @classmethod
    def parse(cls, ref: str, base_dir: str | Path = ".") -> "DataRef":
        if ref == "digits":
            return cls("digits")
        kind, text = ("cifar10", ref.split(":", 1)[1]) if ref.startswith("cifar10:") else ("folder", ref)
        path = Path(base_dir) / text
        if not path.is_dir():
            what = "CIFAR-10 folder" if kind == "cifar10" else "image folder"
            raise InputError(f"{path}: {what} not found; allowed: digits, cifar10:PATH or an image folder")
        return cls(kind, path)

    def load(self, size: int = 32, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
        """(train, test); ``seed`` splits digits and image folders (CIFAR-10 has its own test set)."""
        if self.kind == "digits":
            return digits(size, seed=seed)
        if self.kind == "cifar10":
            return cifar10(self.path)
        return image_folder(self.path, size, seed=seed)


def load_data(ref: "str | DataRef", size: int = 32, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """(train, test) of a data reference (``DataRef.parse`` for a string)."""
    return (ref if isinstance(ref, DataRef) else DataRef.parse(ref)).load(size, seed)
