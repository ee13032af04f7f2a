"""
Scores what train.py left behind (checkpoint.npz) with prepare.evaluate_bpb.
FROZEN: the metric is computed here, in a process of its own, so train.py
cannot print its own score. Run: python evaluate.py (after python train.py)
"""

import math
import os
import sys

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

# The frozen evaluation is bound before the candidate's code is imported, so
# that code cannot swap it out.
from prepare import evaluate_bpb, load_data  # noqa: E402

import train  # noqa: E402  (the candidate's model; it trains only when run as a script)

if not os.path.exists(train.CHECKPOINT):
    print(f"FAIL: no {train.CHECKPOINT}: train.py must save its model there")
    sys.exit(1)
train.load_checkpoint(train.CHECKPOINT)
val_bpb = evaluate_bpb(train.predict, load_data()[1])
if not math.isfinite(val_bpb):
    print("FAIL: evaluation produced non-finite logits")
    sys.exit(1)
print("---")
print(f"val_bpb:          {val_bpb:.6f}")
