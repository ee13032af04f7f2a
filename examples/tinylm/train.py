"""
tinylm: a byte-level language model in pure numpy, trained on a CPU.
This is the ONLY file the agent edits. Goal: lowest val_bpb after
prepare.TIME_BUDGET seconds of training. Run: python train.py (trains, then
writes checkpoint.npz); the frozen evaluate.py, a process of its own that never
imports this file, loads that checkpoint into its own copy of the forward pass
below and scores it. So the checkpoint must keep its layout (see evaluate.py):
the sizes ctx_len, n_embd, n_hidden, n_layer and the arrays of `params`.

Model: a Bengio-style MLP. The embeddings of the last CONTEXT_LEN bytes are
concatenated and projected to N_HIDDEN, then N_LAYER residual blocks
(LayerNorm -> Linear -> ReLU -> Linear) and a final LayerNorm -> Linear give
logits over the 256 byte values. Backprop is written by hand; AdamW optimizer.
"""

import os

# Hyperparameters: plain numbers, any positive value must give a working run
CONTEXT_LEN = 16  # bytes of context the model sees (capped at prepare.SEQ_LEN)
N_EMBD = 32  # embedding size per context byte
N_HIDDEN = 256  # width of the hidden layers
N_LAYER = 2  # number of residual MLP blocks (reported as depth)
BATCH_SIZE = 512  # predicted bytes per optimizer step
LEARNING_RATE = 0.003  # peak AdamW learning rate
WEIGHT_DECAY = 0.1  # decoupled (AdamW) weight decay, not applied to biases
WARMUP_STEPS = 50  # steps of linear learning-rate warmup
WARMDOWN_RATIO = 0.5  # final fraction of the time budget with linear LR decay to 0
INIT_SCALE = 1.0  # multiplier on the 1/sqrt(fan_in) init std
SEED = int(os.environ.get("AUTORESEARCH_SEED", "42"))  # init and batch sampling; autoresearch sets it

# One BLAS thread unless the caller chose otherwise: the time budget counts the
# process's CPU time (see Training), so a second thread would cost budget as fast
# as it adds speed, and it leaves the second core to the agent and tests.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import math
import resource
import sys
import time

import numpy as np

from prepare import SEQ_LEN, TIME_BUDGET, VOCAB_SIZE, load_data

CHECKPOINT = "checkpoint.npz"  # what training leaves for evaluate.py (autoresearch.toml: [eval] artifacts)
t_start = time.time()
rng = np.random.default_rng(SEED)
dtype = np.float32

# sanitize sizes, so that a perturbed constant never breaks a shape
ctx_len = max(1, min(int(round(CONTEXT_LEN)), SEQ_LEN))
n_embd = max(1, int(round(N_EMBD)))
n_hidden = max(1, int(round(N_HIDDEN)))
n_layer = max(0, int(round(N_LAYER)))
batch_size = max(1, int(round(BATCH_SIZE)))

# ---------------------------------------------------------------------------
# Model


def init(shape, fan_in):
    return (rng.standard_normal(shape) * INIT_SCALE / math.sqrt(fan_in)).astype(dtype)


params = {
    "wte": init((VOCAB_SIZE, n_embd), 1),
    "w_in": init((ctx_len * n_embd, n_hidden), ctx_len * n_embd),
    "b_in": np.zeros(n_hidden, dtype),
}
for l in range(n_layer):
    params[f"w1_{l}"] = init((n_hidden, n_hidden), n_hidden)
    params[f"w2_{l}"] = np.zeros((n_hidden, n_hidden), dtype)  # each block starts as identity
params["w_out"] = init((n_hidden, VOCAB_SIZE), n_hidden)
params["b_out"] = np.zeros(VOCAB_SIZE, dtype)
num_params = sum(p.size for p in params.values())


def layernorm(x):
    # no affine parameters: the following Linear can absorb them
    xc = x - x.mean(axis=1, keepdims=True)
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=1, keepdims=True) + 1e-5)
    return xc * rstd, rstd


def layernorm_backward(dy, y, rstd):
    return rstd * (dy - dy.mean(axis=1, keepdims=True) - y * (dy * y).mean(axis=1, keepdims=True))


def forward(ctx, targets=None):
    """ctx: (B, ctx_len) bytes. Returns logits (B, 256), or (loss, grads) given targets."""
    p, nb = params, len(ctx)
    x = p["wte"][ctx].reshape(nb, ctx_len * n_embd)
    h = x @ p["w_in"] + p["b_in"]
    cache = []
    for l in range(n_layer):
        n, rstd = layernorm(h)
        a = np.maximum(n @ p[f"w1_{l}"], 0)
        cache.append((n, rstd, a))
        h = h + a @ p[f"w2_{l}"]
    n, rstd = layernorm(h)
    logits = n @ p["w_out"] + p["b_out"]
    if targets is None:
        return logits

    # softmax cross-entropy, mean over the batch
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(nb)
    loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - logits[rows, targets]))
    dlogits = e / s
    dlogits[rows, targets] -= 1
    dlogits /= nb

    # backward pass, mirror image of the above
    g = {"w_out": n.T @ dlogits, "b_out": dlogits.sum(axis=0)}
    dh = layernorm_backward(dlogits @ p["w_out"].T, n, rstd)
    for l in reversed(range(n_layer)):
        n, rstd, a = cache[l]
        g[f"w2_{l}"] = a.T @ dh
        da = (dh @ p[f"w2_{l}"].T) * (a > 0)
        g[f"w1_{l}"] = n.T @ da
        dh = dh + layernorm_backward(da @ p[f"w1_{l}"].T, n, rstd)
    g["w_in"] = x.T @ dh
    g["b_in"] = dh.sum(axis=0)
    dx = (dh @ p["w_in"].T).reshape(nb * ctx_len, n_embd)
    g["wte"] = np.zeros_like(p["wte"])
    np.add.at(g["wte"], ctx.reshape(-1), dx)
    return loss, g


# ---------------------------------------------------------------------------
# Optimizer: AdamW with global-norm gradient clipping

adam_m = {k: np.zeros_like(v) for k, v in params.items()}
adam_v = {k: np.zeros_like(v) for k, v in params.items()}


def adamw_step(grads, lr, step, beta1=0.9, beta2=0.99, eps=1e-8, max_norm=1.0):
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    clip = min(1.0, max_norm / (norm + 1e-6))
    bc1, bc2 = 1 - beta1 ** step, 1 - beta2 ** step
    for k, p in params.items():
        g = grads[k] * clip
        m, v = adam_m[k], adam_v[k]
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * (g * g)
        if k.startswith("w"):  # decay weight matrices and embeddings, not biases
            p *= 1 - lr * WEIGHT_DECAY
        p -= (lr / bc1) * m / (np.sqrt(v / bc2) + eps)


def lr_schedule(step, progress):
    # linear warmup by steps, then constant, then linear decay to 0 by time
    warmup = min(1.0, (step + 1) / max(1.0, WARMUP_STEPS))
    warmdown = min(1.0, max(1e-6, WARMDOWN_RATIO))
    decay = min(1.0, max(0.0, 1.0 - progress) / warmdown)
    return LEARNING_RATE * warmup * decay


# ---------------------------------------------------------------------------
# The contract with the frozen evaluate.py: it loads CHECKPOINT (plain arrays,
# no pickle) and runs its own copy of forward() above on the saved weights.


def save_checkpoint(path):
    sizes = {"ctx_len": ctx_len, "n_embd": n_embd, "n_hidden": n_hidden, "n_layer": n_layer}
    np.savez(path, **{k: np.int64(v) for k, v in sizes.items()}, **params)


# ---------------------------------------------------------------------------
# Training: stops after TIME_BUDGET seconds of training.
# The budget counts the CPU time of this process, not wall time: on a shared
# 2-core machine other programs (the agent, tests) steal cycles, and counting
# only our own CPU time keeps the step count, and so val_bpb, far more stable.
# A wall-clock cap at 2x the budget still guarantees that the run ends.


def main():
    train_data, _ = load_data()
    offsets = np.arange(-ctx_len, 0, dtype=np.int64)
    print(f"context {ctx_len} | embd {n_embd} | hidden {n_hidden} | layers {n_layer} | "
          f"batch {batch_size} | params {num_params / 1e6:.3f}M | time budget {TIME_BUDGET:g}s")

    step = 0
    training_time = 0.0
    smooth_loss = 0.0
    t_train = time.time()
    while training_time < TIME_BUDGET and time.time() - t_train < 2 * TIME_BUDGET:
        t0 = time.process_time()
        idx = rng.integers(ctx_len, len(train_data), size=batch_size)
        ctx, targets = train_data[idx[:, None] + offsets], train_data[idx]
        loss, grads = forward(ctx, targets)
        if not math.isfinite(loss) or loss > 100:
            print(f"\nFAIL: loss diverged ({loss}) at step {step}")
            sys.exit(1)
        progress = training_time / TIME_BUDGET
        lr = lr_schedule(step, progress)
        adamw_step(grads, lr, step + 1)
        step += 1
        dt = time.process_time() - t0
        training_time += dt
        smooth_loss = 0.95 * smooth_loss + 0.05 * loss
        if step % 10 == 0:
            debiased = smooth_loss / (1 - 0.95 ** step)
            remaining = max(0.0, TIME_BUDGET - training_time)
            print(f"\rstep {step:05d} ({100 * progress:.1f}%) | loss {debiased:.4f} | "
                  f"lr {lr:.2e} | dt {1000 * dt:.1f}ms | remaining {remaining:.0f}s    ",
                  end="", flush=True)
    print()

    # The score is not computed here: evaluate.py (frozen) reads the checkpoint.
    save_checkpoint(CHECKPOINT)

    t_end = time.time()
    rss_unit = 1024 * 1024 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KB on Linux
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / rss_unit
    print("---")
    print(f"training_seconds: {training_time:.1f}")
    print(f"total_seconds:    {t_end - t_start:.1f}")
    print(f"peak_vram_mb:     {peak_rss_mb:.1f}")  # CPU example: this is peak RSS
    print(f"mfu_percent:      {0.0:.2f}")  # no meaningful peak FLOPs on a CPU
    print(f"total_tokens_M:   {step * batch_size / 1e6:.1f}")
    print(f"num_steps:        {step}")
    print(f"num_params_M:     {num_params / 1e6:.1f}")
    print(f"depth:            {n_layer}")


if __name__ == "__main__":
    main()
