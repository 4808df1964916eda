"""Does frozen BatchNorm make a training step slower? Forward and backward of the `mtl-pretrain` model on a batch
of random 64x64 scans, bfloat16 autocast, with BatchNorm in training mode and in eval mode (``train.freeze_bn``),
alternating rounds (docs/benchmarks.md, nineteenth session):

    python scripts/bn_step_time.py [BATCH] [THREADS] [STEPS]     # default 160 2 8
"""

import sys
import time

import torch

from thzface.models.adapt import batchnorm_layers
from thzface.models.mtl_spec import build_model
from thzface.recipes import find_config, load_config

batch, threads, steps = (int(a) for a in (sys.argv[1:] + ["160", "2", "8"][len(sys.argv) - 1 :])[:3])
torch.set_num_threads(threads)
model = build_model(load_config(find_config("mtl-pretrain"), []))
x = torch.rand(batch, 1, 64, 64)  # (B, 1, 64, 64)


def step(frozen: bool) -> None:
    model.train()
    for m in batchnorm_layers(model) if frozen else []:
        m.eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
        loss = out.embedding.float().pow(2).mean() + out.reconstruction.float().mean()
    loss.backward()


for frozen in (False, True, False, True):
    step(frozen)  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        step(frozen)
    print(f"BatchNorm {'frozen' if frozen else 'training'}: {1000 * (time.perf_counter() - t) / steps:.0f} ms a step")
