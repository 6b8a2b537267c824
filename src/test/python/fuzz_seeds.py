"""Writes the torch.save seeds of the checkpoint fuzz targets (see crd4j.fuzz.SeedCorpus, which writes the rest).

usage: python3 fuzz_seeds.py <ReaderFuzzTestInputs folder>

Small real checkpoints in both container formats: a state_dict with a float tensor, a strided view, an int64
buffer, a 0-d tensor and a nested dict with an int key (optimizer-state style). Seed files carry no .pth
extension (the repository ignores *.pth).
"""
import collections
import os
import sys
import zipfile

import torch


def state():
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    sd = collections.OrderedDict()
    sd["conv.weight"] = w
    sd["conv.view"] = w.t()
    sd["bn.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
    sd["half"] = torch.tensor([1.5, -2.0], dtype=torch.float16)
    return {"student_rgb": sd, "epoch": 3, "lr": 0.005, "state": {0: {"step": 1}}}


def main(out):
    torch.manual_seed(0)
    os.makedirs(os.path.join(out, "pthZip"), exist_ok=True)
    os.makedirs(os.path.join(out, "pthLegacy"), exist_ok=True)
    os.makedirs(os.path.join(out, "pickle"), exist_ok=True)
    z = os.path.join(out, "pthZip", "torch-zip-p2")
    torch.save(state(), z)
    torch.save(state(), os.path.join(out, "pthZip", "torch-zip-p4"), pickle_protocol=4)
    torch.save(state(), os.path.join(out, "pthLegacy", "torch-legacy"), _use_new_zipfile_serialization=False)
    with zipfile.ZipFile(z) as f:
        name = [n for n in f.namelist() if n.endswith("/data.pkl")][0]
        with open(os.path.join(out, "pickle", "torch-data-pkl"), "wb") as o:
            o.write(f.read(name))


if __name__ == "__main__":
    main(sys.argv[1])
