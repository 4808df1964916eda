"""Where the simulator's time goes, per backend, in-process (no file writes, no worker start-up, no dataset probes):

    python scripts/sim_profile.py BACKEND [PEOPLE] [PRESET]    # BACKEND: reference | batched; default 3, pretrain-2k

Simulates PEOPLE people of PRESET (one site; every posture and sample) twice on one torch thread: a warm-up run,
then a run under cProfile. Prints the CPU milliseconds per sample of each run and the profile's top 30 functions by
cumulative time (docs/benchmarks.md, sixteenth session: the numbers behind #25's stage split). ``sample_loop`` is
also the loop scripts/sim_stages.py times.
"""

import cProfile
import pstats
import sys
import time
from collections.abc import Callable

import torch

from thzface.sim.batch import block_size, blocks, simulate_batch
from thzface.sim.face_model import build_face_model, make_identities
from thzface.sim.presets import get_preset
from thzface.sim.sample import simulate_sample
from thzface.sim.world import task


def sample_loop(backend: str, people: int = 3, preset: str = "pretrain-2k") -> tuple[Callable[[], None], int]:
    """A function that simulates every sample of ``people`` people of ``preset`` (one site) with ``backend``, and
    the number of samples it makes."""
    cfg = get_preset(preset, [f"identities.count={people}", f"backend={backend}", "sites=1"])
    model = build_face_model(cfg.face_model)
    ids = make_identities(model, cfg, 5)
    n = people * 5 * cfg.samples

    def run() -> None:
        for b in blocks(range(n), block_size(cfg)):
            jobs = [(ids[task(i, cfg.samples)[0]], task(i, cfg.samples)[1], i) for i in b]
            if backend == "batched":
                simulate_batch(cfg, model, jobs, 5)
            else:
                for ident, posture, i in jobs:
                    simulate_sample(cfg, model, ident, posture, 5, i)

    return run, n


if __name__ == "__main__":
    torch.set_num_threads(1)
    backend = sys.argv[1]
    run, n = sample_loop(backend, int(sys.argv[2]) if len(sys.argv) > 2 else 3, *sys.argv[3:4])
    t = time.process_time()
    run()
    print(f"{backend}: warm-up {1000 * (time.process_time() - t) / n:.1f} CPU-ms a sample ({n} samples)")
    prof = cProfile.Profile()
    t = time.process_time()
    prof.enable()
    run()
    prof.disable()
    print(f"{backend}: profiled {1000 * (time.process_time() - t) / n:.1f} CPU-ms a sample")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
