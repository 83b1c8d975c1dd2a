import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from hdap.data import cifar10, digits, image_folder, load_data
from testbed.errors import InputError


def test_digits_is_real_32x32_rgb_with_a_stratified_seeded_split():
    train, test = digits()
    assert train.tensors[0].shape[1:] == (3, 32, 32) and len(train) + len(test) == 1797
    assert sorted(torch.unique(test.tensors[1]).tolist()) == list(range(10))
    again, _ = digits()
    assert torch.equal(train.tensors[0], again.tensors[0])
    other, _ = digits(seed=1)
    assert not torch.equal(train.tensors[1], other.tensors[1])


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        (tmp_path / c).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(tmp_path / c / f"{i}.png")
    train, test = image_folder(tmp_path, size=16)
    assert train.tensors[0].shape[1:] == (3, 16, 16) and len(train) + len(test) == 10
    (tmp_path / "dog" / "bad.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="bad.png: unreadable image"):
        image_folder(tmp_path)


@pytest.mark.parametrize("setup,message", [(lambda p: None, "image folder not found"),
                                           (lambda p: (p.mkdir(), (p / "only").mkdir()), "one subfolder per class")])
def test_image_folder_errors(tmp_path, setup, message):
    root = tmp_path / "data"
    setup(root)
    with pytest.raises(InputError, match=message):
        image_folder(root)


def _batch(path, n, seed):
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        pickle.dump({b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}, f)


def test_cifar10_python_batches(tmp_path):
    for i in range(1, 6):
        _batch(tmp_path / f"data_batch_{i}", 4, i)
    _batch(tmp_path / "test_batch", 3, 9)
    train, test = load_data(f"cifar10:{tmp_path}")
    assert train.tensors[0].shape == (20, 3, 32, 32) and len(test) == 3
    (tmp_path / "test_batch").write_bytes(b"garbage")
    with pytest.raises(InputError, match="test_batch: not a CIFAR-10 python batch"):
        cifar10(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(InputError, match="data_batch_3: CIFAR-10 batch not found"):
        cifar10(tmp_path)
