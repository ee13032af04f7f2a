"""
tinylm data preparation and evaluation. FROZEN.

Do not modify this file: the agent may only edit train.py.
It fixes the things that make experiments comparable: the time budget, the
data, the context length and the evaluation metric (val_bpb).

The data is built locally and deterministically from the Python standard
library's own source code, so nothing is downloaded. Run once to build it:

    python prepare.py

Importing this file builds nothing; load_data() builds on first use if needed.
"""

import hashlib
import json
import math
import os
import sys
import time
import zlib

import numpy as np

# ---------------------------------------------------------------------------
# Constants (frozen)

TIME_BUDGET = float(os.environ.get("AUTORESEARCH_TIME_BUDGET", "30"))  # training seconds
SEQ_LEN = 64  # bytes of context a model may look at to predict the next byte
VOCAB_SIZE = 256  # byte-level: every byte value is a token
TRAIN_BYTES = 3_000_000  # size of the training split
VAL_BYTES = 400_000  # size of the validation split
VAL_EVERY = 10  # roughly 1 in VAL_EVERY source files goes to val (by path hash)
MAX_FILE_BYTES = 20_000  # use at most the first this many bytes of each file, for variety
EVAL_TOKENS = 32_768  # number of fixed val positions scored by evaluate_bpb
EVAL_BATCH = 4096  # positions per call to the model during evaluation
DATA_VERSION = 2  # bump if the data recipe above changes

CACHE_DIR = os.path.expanduser(
    os.environ.get("AUTORESEARCH_CACHE", os.path.join("~", ".cache", "autoresearch-tinylm"))
)
# different Python versions ship different stdlib sources, so keep them apart
DATA_DIR = os.path.join(CACHE_DIR, f"py{sys.version_info[0]}{sys.version_info[1]}")
# skip installed packages, tests, and dirs that are mostly data (codec tables, doc strings)
_SKIP_DIRS = {"site-packages", "dist-packages", "test", "tests", "__pycache__", "idlelib",
              "encodings", "pydoc_data", "__phello__"}

# ---------------------------------------------------------------------------
# Data


def _source_files():
    """Stdlib *.py files (minus tests and installed packages) in a fixed pseudo-random order."""
    root = os.path.dirname(os.__file__)
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("config-")]
        for name in filenames:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                files.append((os.path.relpath(path, root).replace(os.sep, "/"), path))
    # order by a hash of the path: both splits then sample the whole stdlib, not
    # just its alphabetically first packages, and the order never depends on the OS
    files.sort(key=lambda f: (zlib.crc32(f[0].encode()), f[0]))
    return files


def _build_splits():
    """Concatenate stdlib sources into disjoint train/val byte strings."""
    train, val = [], []
    n_train = n_val = 0
    for rel, path in _source_files():
        # the split depends only on the file's path, never on what else exists
        is_val = zlib.crc32(rel.encode()) % VAL_EVERY == 0
        if (is_val and n_val >= VAL_BYTES) or (not is_val and n_train >= TRAIN_BYTES):
            continue
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES) + b"\n\n"
        if is_val:
            val.append(data)
            n_val += len(data)
        else:
            train.append(data)
            n_train += len(data)
        if n_train >= TRAIN_BYTES and n_val >= VAL_BYTES:
            break
    train, val = b"".join(train)[:TRAIN_BYTES], b"".join(val)[:VAL_BYTES]
    if len(train) < 100_000 or len(val) < 10_000:
        raise RuntimeError(f"not enough stdlib source found under {os.path.dirname(os.__file__)}")
    return train, val


def _meta_path():
    return os.path.join(DATA_DIR, "meta.json")


def _cache_valid():
    try:
        with open(_meta_path()) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    want = {"version": DATA_VERSION, "train_bytes_max": TRAIN_BYTES, "val_bytes_max": VAL_BYTES,
            "val_every": VAL_EVERY, "max_file_bytes": MAX_FILE_BYTES}
    if any(meta.get(k) != v for k, v in want.items()):
        return False
    for split in ("train", "val"):
        path = os.path.join(DATA_DIR, f"{split}.bin")
        if not os.path.exists(path) or os.path.getsize(path) != meta.get(f"{split}_size"):
            return False
    return True


def prepare(verbose=True):
    """Build train.bin / val.bin in DATA_DIR unless a valid copy is already there."""
    if _cache_valid():
        if verbose:
            print(f"data already prepared in {DATA_DIR}")
        return
    t0 = time.time()
    train, val = _build_splits()
    os.makedirs(DATA_DIR, exist_ok=True)
    meta = {"version": DATA_VERSION, "train_bytes_max": TRAIN_BYTES, "val_bytes_max": VAL_BYTES,
            "val_every": VAL_EVERY, "max_file_bytes": MAX_FILE_BYTES,
            "python": sys.version.split()[0],
            "train_size": len(train), "val_size": len(val),
            "train_sha256": hashlib.sha256(train).hexdigest(),
            "val_sha256": hashlib.sha256(val).hexdigest()}
    # write to temporary names and rename, so concurrent runs never see half a file
    tag = f".tmp{os.getpid()}"
    for name, data in (("train.bin", train), ("val.bin", val)):
        with open(os.path.join(DATA_DIR, name + tag), "wb") as f:
            f.write(data)
        os.replace(os.path.join(DATA_DIR, name + tag), os.path.join(DATA_DIR, name))
    with open(_meta_path() + tag, "w") as f:
        json.dump(meta, f, indent=2)
    os.replace(_meta_path() + tag, _meta_path())
    if verbose:
        print(f"built data in {time.time() - t0:.2f}s -> {DATA_DIR}")
        print(f"train: {len(train):,} bytes  val: {len(val):,} bytes  (python {meta['python']})")


def load_data():
    """Return (train, val) as uint8 numpy arrays, building them first if needed."""
    if not _cache_valid():
        prepare(verbose=False)
    train = np.fromfile(os.path.join(DATA_DIR, "train.bin"), dtype=np.uint8)
    val = np.fromfile(os.path.join(DATA_DIR, "val.bin"), dtype=np.uint8)
    return train, val


# ---------------------------------------------------------------------------
# Evaluation (the single source of truth for the metric)


def evaluate_bpb(predict_fn, val=None):
    """
    Bits per byte of the model on EVAL_TOKENS fixed positions of the val split.

    predict_fn(ctx) gets an int64 array of shape (B, SEQ_LEN): the SEQ_LEN bytes
    that precede each scored position, most recent last. It must return logits
    (unnormalized log-probabilities) of shape (B, VOCAB_SIZE) for the next byte.
    Returns a float; nan/inf if the model produced non-finite logits.
    """
    if val is None:
        val = load_data()[1]
    # evenly spaced, fixed positions: same bytes scored for every run
    pos = np.linspace(SEQ_LEN, len(val) - 1, EVAL_TOKENS).astype(np.int64)
    offsets = np.arange(-SEQ_LEN, 0, dtype=np.int64)
    total_nats = 0.0
    for i in range(0, EVAL_TOKENS, EVAL_BATCH):
        p = pos[i:i + EVAL_BATCH]
        ctx = val[p[:, None] + offsets].astype(np.int64)
        logits = np.asarray(predict_fn(ctx), dtype=np.float64)
        assert logits.shape == (len(p), VOCAB_SIZE), f"bad logits shape {logits.shape}"
        if not np.all(np.isfinite(logits)):
            return float("nan")
        m = logits.max(axis=1, keepdims=True)
        logz = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
        total_nats += float(np.sum(logz - logits[np.arange(len(p)), val[p]]))
    return total_nats / (EVAL_TOKENS * math.log(2))


if __name__ == "__main__":
    t0 = time.time()
    prepare()
    train, val = load_data()
    print(f"SEQ_LEN={SEQ_LEN} VOCAB_SIZE={VOCAB_SIZE} TIME_BUDGET={TIME_BUDGET:g}s")
    print(f"train.bin: {len(train):,} bytes  val.bin: {len(val):,} bytes  ({time.time() - t0:.2f}s)")
