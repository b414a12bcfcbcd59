#!/usr/bin/python3
"""Writes the seed inputs of the libFuzzer harnesses into tests/fuzz/corpus/:
small valid and almost-valid inputs from which the fuzzers start. Seeded, so
every run writes the same files (up to torch.save's own bytes). The corpus is
checked in; run this only to change the seeds, then commit what changed.
Inputs the fuzzers found (crash reproducers, regression inputs) live next to
the seeds under names starting with "regression-"; this script leaves them alone.

usage: make_seed_corpus.py [CORPUS_DIR]
"""
import collections
import io
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write(corpus, harness, name, data):
    d = os.path.join(corpus, harness)
    os.makedirs(d, exist_ok=True)
    assert len(data) < 10 * 1024, (harness, name, len(data))
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def torch_save_bytes(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def dataset_seeds(corpus):
    torch.manual_seed(0)
    for n in (2, 3, 5):
        data = {"inputs": torch.randn(n, 1, 4, 4), "targets": torch.randint(0, 10, (n,))}
        write(corpus, "dataset_fuzzer", f"valid-{n}", torch_save_bytes(data))
    x = torch.randn(3, 1, 4, 4)
    y = torch.randint(0, 10, (3,))
    invalid = {
        "float64-inputs": {"inputs": x.double(), "targets": y},
        "int32-targets": {"inputs": x, "targets": y.int()},
        "wrong-shape": {"inputs": torch.randn(3, 1, 2, 8), "targets": y},
        "one-sample": {"inputs": x[:1], "targets": y[:1]},
        "negative-label": {"inputs": x, "targets": -y - 1},
        "no-targets": {"inputs": x},
        "not-a-dict": [x, y],
        # A view into a larger storage (offset and strides from the pickle).
        "view": {"inputs": torch.randn(4, 1, 4, 4)[1:], "targets": torch.arange(5)[2:]},
        "non-contiguous": {"inputs": torch.randn(1, 4, 4, 3).permute(3, 0, 1, 2),
                           "targets": y},
    }
    for name, obj in invalid.items():
        write(corpus, "dataset_fuzzer", name, torch_save_bytes(obj))

    # Tensors whose sizes, strides or offset do not fit their storage. Python's
    # torch.load refuses them; LibTorch 1.13's C++ unpickler does not, so the
    # reader checks them itself (dataset.cc CheckStorageBounds).
    class View:
        def __init__(self, storage_items, dtype, size, stride, offset=0):
            self.args = (storage_items, dtype, size, stride, offset)

        def __reduce__(self):
            n, dtype, size, stride, offset = self.args
            storage = torch.zeros(n, dtype=dtype).storage()
            return (torch._utils._rebuild_tensor_v2,
                    (storage, offset, size, stride, False, collections.OrderedDict()))

    crafted = {
        "view-past-storage": {"inputs": View(32, torch.float32, (1000, 1, 4, 4), (16, 16, 4, 1)),
                              "targets": torch.zeros(1000, dtype=torch.int64)},
        "offset-past-storage": {"inputs": x, "targets": View(3, torch.int64, (3,), (1,), 2)},
        "negative-stride": {"inputs": x, "targets": View(3, torch.int64, (3,), (-1,), 2)},
        "zero-stride-view": {"inputs": View(16, torch.float32, (100000, 1, 4, 4), (0, 16, 4, 1)),
                             "targets": View(1, torch.int64, (100000,), (0,))},
    }
    for name, obj in crafted.items():
        write(corpus, "dataset_fuzzer", "crafted-" + name, torch_save_bytes(obj))

    # Pickles that crash LibTorch 1.13's unpickler (SEGV on an empty stack);
    # dataset.cc refuses them first (pickle_check.h).
    pickles = {"reduce-empty-stack": b"\x80\x02R.", "build-empty-stack": b"\x80\x02b.",
               "newobj-empty-stack": b"\x80\x02\x81.", "binpersid-empty-stack": b"\x80\x02Q.",
               "tuple2-empty-stack": b"\x80\x02\x86.", "tuple-without-mark": b"\x80\x02t.",
               "long-binput-huge": b"\x80\x02}r\xff\xff\xff\x7f."}
    for name, pkl in pickles.items():
        data = zip_bytes([("archive/data.pkl", pkl), ("archive/version", b"3\n")])
        write(corpus, "dataset_fuzzer", "crafted-pickle-" + name, data)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return torch.relu(self.fc(x))


def zip_bytes(entries, force_zip64=False, stream=False):
    """A zip with the given (name, data) entries, stored (not compressed)."""
    buf = io.BytesIO()
    target = buf
    if stream:
        # An unseekable stream makes zipfile write data descriptors (flag bit 3).
        class Unseekable(io.RawIOBase):
            def writable(self):
                return True

            def write(self, b):
                return buf.write(b)

        target = Unseekable()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            with z.open(name, "w", force_zip64=force_zip64) as f:
                f.write(data)
    return buf.getvalue()


def model_archive_seeds(corpus):
    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(Tiny().eval()), buf)
    write(corpus, "model_archive_fuzzer", "torchscript-linear", buf.getvalue())
    # torch.save of weights only: a zip without code/ (rejected).
    write(corpus, "model_archive_fuzzer", "torch-save-state-dict",
          torch_save_bytes(Tiny().state_dict()))
    code = [("archive/code/__torch__.py", b"def forward(self, x):\n  return x\n"),
            ("archive/data.pkl", b"\x80\x02}q\x00.")]
    write(corpus, "model_archive_fuzzer", "zip-code", zip_bytes(code))
    write(corpus, "model_archive_fuzzer", "zip-constants",
          zip_bytes([("archive/data.pkl", b"\x80\x02."), ("archive/constants.pkl", b"\x80\x02).")]))
    write(corpus, "model_archive_fuzzer", "zip-data-descriptor", zip_bytes(code, stream=True))
    write(corpus, "model_archive_fuzzer", "zip-zip64", zip_bytes(code, force_zip64=True))
    write(corpus, "model_archive_fuzzer", "zip-no-code",
          zip_bytes([("archive/data.pkl", b"\x80\x02.")]))
    write(corpus, "model_archive_fuzzer", "not-zip", b"\x80\x02}q\x00.")


def request_validation_seeds(corpus):
    with tempfile.TemporaryDirectory() as gen:
        proto_dir = os.path.join(ROOT, "proto")
        subprocess.run(["protoc", f"--proto_path={proto_dir}", f"--python_out={gen}",
                        "prune/v1/resources.proto", "prune/v1/service.proto"], check=True)
        sys.path.insert(0, gen)
        from prune.v1 import resources_pb2, service_pb2  # noqa: E402

    def seed(name, mode, payload):
        write(corpus, "request_validation_fuzzer", name, bytes([mode]) + payload)

    # Mode 0: CreateJobRequest.
    job = resources_pb2.Job(model="tenants/t1/models/m-123", dataset="mnist-small",
                            strategy=resources_pb2.GLOBAL, priority=10, seed=7,
                            importance="taylor")
    job.target.kind = resources_pb2.Target.PARAMS
    job.target.ratio = 0.5
    job.finetune.epochs = 2
    job.finetune.learning_rate = 0.01
    job.search.max_evaluations = 50
    job.search.max_seconds = 60
    seed("create-job-full", 0,
         service_pb2.CreateJobRequest(job=job, request_id="req-1").SerializeToString())
    minimal = resources_pb2.Job(model="resnet")
    minimal.target.ratio = 0.3
    seed("create-job-minimal", 0, service_pb2.CreateJobRequest(job=minimal).SerializeToString())
    bad = resources_pb2.Job(model="m", importance="l3", strategy=resources_pb2.AMC)
    bad.target.ratio = 1.5
    seed("create-job-invalid", 0,
         service_pb2.CreateJobRequest(job=bad, request_id="x" * 129).SerializeToString())

    # Mode 1: UploadMetadata.
    sha = "0123456789ABCDEFabcdef0123456789abcdef0123456789abcdef0123456789"
    seed("metadata-model", 1, service_pb2.UploadMetadata(
        display_name="tiny cnn", input_shape=[1, 1, 28, 28], size_bytes=1000,
        sha256=sha).SerializeToString())
    seed("metadata-dataset", 1, service_pb2.UploadMetadata(
        display_name="mnist", size_bytes=70000, sha256=sha.lower()).SerializeToString())
    seed("metadata-invalid", 1, service_pb2.UploadMetadata(
        display_name="tenants/x\n", input_shape=[0, -1], size_bytes=-5,
        sha256="zz").SerializeToString())

    # Mode 2: upload streams, the wire format of `repeated Request requests = 1`.
    def stream(messages):
        out = b""
        for m in messages:
            body = m.SerializeToString()
            out += b"\x0a" + varint(len(body)) + body
        return out

    model = zip_bytes([("archive/code/__torch__.py", b"x"), ("archive/data.pkl", b"\x80\x02.")])
    chunks = [model[i:i + 40] for i in range(0, len(model), 40)]
    msgs = [service_pb2.UploadModelRequest(metadata=service_pb2.UploadMetadata(
        display_name="m", input_shape=[1, 2], size_bytes=len(model), sha256="a" * 64))]
    offset = 0
    for c in chunks:
        msgs.append(service_pb2.UploadModelRequest(
            chunk=service_pb2.UploadChunk(offset=offset, data=c)))
        offset += len(c)
    seed("upload-model", 2, stream(msgs))
    seed("upload-model-short", 2, stream(msgs[:-1]))
    data = b"\x00" * 100
    ds = [service_pb2.UploadDatasetRequest(metadata=service_pb2.UploadMetadata(
              display_name="d", size_bytes=len(data), sha256="b" * 64)),
          service_pb2.UploadDatasetRequest(chunk=service_pb2.UploadChunk(offset=0, data=data[:60])),
          service_pb2.UploadDatasetRequest(chunk=service_pb2.UploadChunk(offset=60, data=data[60:]))]
    seed("upload-dataset", 2 | 4, stream(ds))
    seed("upload-dataset-bad-offset", 2 | 4, stream([ds[0], ds[2], ds[1]]))

    # Mode 3: collection selector byte, then "name\ntenant".
    seed("name-model", 3, b"\x00tenants/t1/models/abc")
    seed("name-dataset-other-tenant", 3, b"\x01tenants/t2/datasets/abc\nt1")
    seed("name-job-bad", 3, b"\x02tenants//jobs/x/y")
    seed("name-display", 3, b"\x00my model")


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fuzz", "corpus")
    dataset_seeds(corpus)
    model_archive_seeds(corpus)
    request_validation_seeds(corpus)


if __name__ == "__main__":
    main()
