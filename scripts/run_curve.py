"""A run's validation and training-people EER at each validation, and its optimiser steps a second between them,
from the run's TensorBoard events (``RUN/tb``: the wall time of each logged ``train/loss``). The curves are also in
``RUN/logs/metrics.csv``; the step rate is only here (docs/benchmarks.md, twentieth session: R11's rate before and
after its BatchNorm freeze).

    python scripts/run_curve.py RUN
"""

import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

run = Path(sys.argv[1]) if len(sys.argv) == 2 else sys.exit("usage: python scripts/run_curve.py RUN")
if not (run / "tb").is_dir():
    sys.exit(f"{run}: no tb/ folder of TensorBoard events (not a training run)")
events = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0})
events.Reload()
tags = events.Tags()["scalars"]


def scalars(tag: str) -> dict[int, tuple[float, float]]:
    """step -> (value, wall time) of ``tag``; empty when the run did not log it."""
    return {e.step: (e.value, e.wall_time) for e in events.Scalars(tag)} if tag in tags else {}


val, fit, loss = scalars("val/eer"), scalars("fit/eer"), scalars("train/loss")
logged = sorted(loss)
previous = logged[0] if logged else None
print("step    val/eer  fit/eer  steps/s since the previous validation")
for step in sorted(val):
    at = max((s for s in logged if s <= step), default=None)  # the last logged training step before it
    rate = float("nan")
    if previous is not None and at is not None and at > previous:
        rate = (at - previous) / (loss[at][1] - loss[previous][1])
    previous = at if at is not None else previous
    print(f"{step:6d}  {val[step][0]:7.3f}  {fit.get(step, (float('nan'),))[0]:7.3f}  {rate:6.2f}")
