"""Fashion-MNIST loader that reads the gzipped IDX files directly.

No torchvision download: the IDX files come from the Debian package
`dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist) or any directory
holding the four standard `*-ubyte.gz` files.

    from fashion_mnist import load_split
    x, y = load_split("train")   # float32 [60000,1,28,28] (normalised), int64 [60000]
"""

import gzip
import os
import struct

import numpy as np
import torch

DEFAULT_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
MEAN = 0.2860
STD = 0.3530
NUM_CLASSES = 10

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# IDX type codes -> numpy big-endian dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path):
    """Parses one (optionally gzipped) IDX file into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for an IDX header")
    zero, type_code, ndim = struct.unpack_from(">HBB", data, 0)
    if zero != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"{path}: bad IDX magic (type 0x{type_code:02x}, ndim {ndim})")
    dims = struct.unpack_from(f">{ndim}I", data, 4)
    offset = 4 + 4 * ndim
    dtype = _IDX_DTYPES[type_code]
    count = int(np.prod(dims))
    if len(data) - offset != count * dtype.itemsize:
        raise ValueError(f"{path}: payload size {len(data) - offset} does not match dims {dims}")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def load_split(split, data_dir=DEFAULT_DIR, normalize=True):
    """Returns (inputs float32 [N,1,28,28], targets int64 [N]) for 'train' or 'test'."""
    if split not in _FILES:
        raise ValueError(f"unknown split {split!r} (expected 'train' or 'test')")
    img_name, lbl_name = _FILES[split]
    images = read_idx(os.path.join(data_dir, img_name))
    labels = read_idx(os.path.join(data_dir, lbl_name))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"inconsistent shapes: images {images.shape}, labels {labels.shape}")
    x = torch.from_numpy(images).to(torch.float32).div_(255.0).unsqueeze_(1)
    if normalize:
        x.sub_(MEAN).div_(STD)
    y = torch.from_numpy(labels.astype(np.int64))
    if y.min() < 0 or y.max() >= NUM_CLASSES:
        raise ValueError("labels out of range")
    return x.contiguous(), y


def validate_dataset(inputs, targets, num_classes=None):
    """Raises ValueError unless (inputs, targets) follow the service's dataset format."""
    if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise ValueError("inputs and targets must be tensors")
    if inputs.dtype != torch.float32 or inputs.dim() != 4:
        raise ValueError(f"inputs must be float32 [N,C,H,W], got {inputs.dtype} {tuple(inputs.shape)}")
    if targets.dtype != torch.int64 or targets.dim() != 1:
        raise ValueError(f"targets must be int64 [N], got {targets.dtype} {tuple(targets.shape)}")
    if inputs.shape[0] != targets.shape[0] or inputs.shape[0] == 0:
        raise ValueError(f"N mismatch or empty: inputs {inputs.shape[0]}, targets {targets.shape[0]}")
    if not torch.isfinite(inputs).all():
        raise ValueError("inputs contain NaN/Inf")
    if targets.min() < 0 or (num_classes is not None and targets.max() >= num_classes):
        raise ValueError(f"targets outside [0, {num_classes})")


def save_dataset(path, inputs, targets):
    """Writes the service's dataset format: torch.save({"inputs", "targets"}) as zip.

    Tensors are made contiguous and cloned so that a slice does not drag its whole
    parent storage into the file. Written atomically (tmp + rename).
    """
    validate_dataset(inputs, targets)
    obj = {"inputs": inputs.contiguous().clone(), "targets": targets.contiguous().clone()}
    tmp = path + ".tmp"
    torch.save(obj, tmp)  # default zip serialization: readable by torch::pickle_load
    os.replace(tmp, path)


def load_dataset(path, num_classes=None):
    """Reads and validates a dataset file; returns (inputs, targets)."""
    obj = torch.load(path, map_location="cpu")
    if not isinstance(obj, dict) or "inputs" not in obj or "targets" not in obj:
        raise ValueError(f"{path}: expected a dict with 'inputs' and 'targets'")
    validate_dataset(obj["inputs"], obj["targets"], num_classes)
    return obj["inputs"], obj["targets"]


if __name__ == "__main__":
    for s in ("train", "test"):
        xs, ys = load_split(s)
        print(s, tuple(xs.shape), xs.dtype, tuple(ys.shape), ys.dtype,
              f"mean={xs.mean():.4f} std={xs.std():.4f}", torch.bincount(ys).tolist())
