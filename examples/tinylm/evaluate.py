"""
Scores what train.py left behind (checkpoint.npz) with prepare.evaluate_bpb.
FROZEN. Run: python evaluate.py (after python train.py)

The score is computed in a process of its own that never imports train.py:
the checkpoint holds plain arrays (no pickle) and the few integers that give
the model's shape, and the forward pass below is frozen. Nothing train.py
does at run time can then change how its model is scored: it can only
change the weights it saves.

checkpoint.npz (np.savez, no pickle) holds, with C = ctx_len, E = n_embd,
H = n_hidden, L = n_layer, all float arrays (float16/32/64):
  ctx_len, n_embd, n_hidden, n_layer   integers (0-d arrays); 1 <= C <= SEQ_LEN
  wte (256, E)   w_in (C*E, H)   b_in (H,)
  w1_l, w2_l (H, H) for l in 0 .. L-1
  w_out (H, 256)   b_out (256,)
The model: embeddings of the last C bytes, concatenated -> Linear -> L
residual blocks (LayerNorm -> Linear -> ReLU -> Linear) -> LayerNorm ->
Linear, giving logits over the 256 byte values.
"""

import math
import os
import sys
import zipfile

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

from prepare import SEQ_LEN, VOCAB_SIZE, evaluate_bpb, load_data  # noqa: E402

CHECKPOINT = "checkpoint.npz"
SIZES = ("ctx_len", "n_embd", "n_hidden", "n_layer")
MAX_SIZE = 1 << 16  # no dimension of a CPU-sized model comes near this


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def load_checkpoint(path):
    """The checkpoint's arrays, checked against the layout above; exits with a FAIL line otherwise."""
    if not os.path.exists(path):
        fail(f"no {path}: train.py must save its model there with np.savez at the end of training")
    if not zipfile.is_zipfile(path):
        fail(f"{path} is not a valid .npz archive: save it with np.savez(CHECKPOINT, **arrays)")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as saved:
            for key in saved.files:
                try:
                    arrays[key] = saved[key]
                except ValueError as e:  # an object array needs pickle, which is never loaded
                    fail(f"{path}: {key} cannot be loaded without pickle ({e}): save plain numeric arrays")
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        fail(f"{path} is not a valid .npz archive ({e}): save it with np.savez(CHECKPOINT, **arrays)")

    missing = [k for k in SIZES if k not in arrays]
    if missing:
        fail(f"{path}: missing {', '.join(missing)}: save the model's sizes ({', '.join(SIZES)}) with its weights")
    sizes = {}
    for key in SIZES:
        a = arrays[key]
        if a.shape != () or a.dtype.kind not in "iu":
            fail(f"{path}: {key} must be one integer (np.int64(...)), got dtype {a.dtype} shape {a.shape}")
        sizes[key] = int(a)
    c, e, h, n_layer = (sizes[k] for k in SIZES)
    if not 1 <= c <= SEQ_LEN:
        fail(f"{path}: ctx_len is {c}, must be between 1 and SEQ_LEN ({SEQ_LEN})")
    for key in ("n_embd", "n_hidden"):
        if not 1 <= sizes[key] <= MAX_SIZE:
            fail(f"{path}: {key} is {sizes[key]}, must be between 1 and {MAX_SIZE}")
    if not 0 <= n_layer <= 64:
        fail(f"{path}: n_layer is {n_layer}, must be between 0 and 64")

    expected = {"wte": (VOCAB_SIZE, e), "w_in": (c * e, h), "b_in": (h,),
                "w_out": (h, VOCAB_SIZE), "b_out": (VOCAB_SIZE,)}
    for l in range(n_layer):
        expected[f"w1_{l}"] = (h, h)
        expected[f"w2_{l}"] = (h, h)
    missing = [k for k in expected if k not in arrays]
    if missing:
        fail(f"{path}: missing {', '.join(missing)} (for n_layer = {n_layer})")
    unexpected = sorted(set(arrays) - set(expected) - set(SIZES))
    if unexpected:
        fail(f"{path}: unexpected arrays {', '.join(unexpected)}: the frozen model has only "
             f"{', '.join(SIZES + tuple(expected))}")
    for key, shape in expected.items():
        a = arrays[key]
        if a.dtype.kind != "f":
            fail(f"{path}: {key} has dtype {a.dtype}, expected a float dtype (float32)")
        if a.shape != shape:
            fail(f"{path}: {key} has shape {a.shape}, expected {shape}")
    return sizes, {k: arrays[k] for k in expected}


def layernorm(x):
    # the same operations as training's, in the same order: the same weights give the same score
    xc = x - x.mean(axis=1, keepdims=True)
    return xc * (1.0 / np.sqrt((xc * xc).mean(axis=1, keepdims=True) + 1e-5))


def make_predict(sizes, p):
    """predict(ctx): ctx (B, SEQ_LEN) bytes, most recent last -> logits (B, 256)."""
    c, e, n_layer = sizes["ctx_len"], sizes["n_embd"], sizes["n_layer"]

    def predict(ctx):
        ctx = ctx[:, -c:]
        h = p["wte"][ctx].reshape(len(ctx), c * e) @ p["w_in"] + p["b_in"]
        for l in range(n_layer):
            h = h + np.maximum(layernorm(h) @ p[f"w1_{l}"], 0) @ p[f"w2_{l}"]
        return layernorm(h) @ p["w_out"] + p["b_out"]

    return predict


if __name__ == "__main__":
    sizes, weights = load_checkpoint(CHECKPOINT)
    with np.errstate(all="ignore"):  # non-finite logits are reported below, not as warnings
        val_bpb = evaluate_bpb(make_predict(sizes, weights), load_data()[1])
    if not math.isfinite(val_bpb):
        fail(f"{CHECKPOINT}: the model produced non-finite logits")
    print("---")
    print(f"val_bpb:          {val_bpb:.6f}")
