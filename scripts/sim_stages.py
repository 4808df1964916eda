"""Where the batched backend's time goes, by stage, without cProfile's overhead (docs/benchmarks.md, seventeenth
session: the stage split):

    python scripts/sim_stages.py [PEOPLE] [PRESET]

Wraps the main stage functions with CPU-time counters, runs scripts/sim_profile.py's sample loop once to warm up
and once timed, and prints the total and each stage's CPU-ms a sample (stages nest: the rows do not add up).
"""

import collections
import sys
import time

import torch
from sim_profile import sample_loop

import thzface.sim.batch as B
import thzface.sim.batch_face as BF
import thzface.sim.batch_filters as BFL
import thzface.sim.face_model as FM
import thzface.sim.garments as G
import thzface.sim.head as H
import thzface.sim.physics as P
import thzface.sim.sample as S
import thzface.sim.scene as SC
import thzface.sim.thz as T

STAGES = [
    (S, ["prepare_sample", "finish_sample", "_signals", "draw_system", "identity_maps", "_aux", "assemble_scene",
         "box_down", "measure", "redraw_fields", "active_scene", "speckle_normals", "passive_scene"]),
    (SC, ["setup_scene", "assemble_scene"]), (B, ["render_batch"]),
    (T, ["active_scene", "garment_pixels", "garment_stack", "outer_value", "front_of", "beam_w"]),
    (BF, ["build_builtin", "person"]), (G, ["sample_concealment", "drape_gap"]), (H, ["finish_head"]),
    (BFL, ["psf_blur_fast", "speckle_fft"]), (FM, ["visit_identity", "skin_field"]),
    (P, ["stack_coherent", "stack_incoherent", "layer_loss_db", "glint_lobe", "curvature_broadening",
         "fresnel_normal", "skin_index"]),
]  # fmt: skip
acc: collections.Counter = collections.Counter()


def timed(f, key):
    def g(*a, **k):
        t = time.process_time()
        r = f(*a, **k)
        acc[key] += time.process_time() - t
        return r

    return g


torch.set_num_threads(1)
for mod, names in STAGES:
    for name in names:
        if hasattr(mod, name):
            setattr(mod, name, timed(getattr(mod, name), f"{mod.__name__.split('.')[-1]}.{name}"))
F = BFL.FFT_FILTERS
BFL.FFT_FILTERS = F._replace(**{k: timed(getattr(F, k), f"filters.{k}") for k in ("blur", "speckle", "skin_optics",
                                                                                    "curvature")})  # fmt: skip
run, n = sample_loop("batched", int(sys.argv[1]) if len(sys.argv) > 1 else 3, *sys.argv[2:3])
run()
acc.clear()
t = time.process_time()
run()
print(f"total {1000 * (time.process_time() - t) / n:.1f} ms/sample")
for k, v in sorted(acc.items(), key=lambda x: -x[1]):
    print(f"{1000 * v / n:7.2f} {k}")
