"""
PyTorch replica of the model `graft train` builds by default, as `bench/train --model default`
trains it: the same data, initial weights, batches (in order) and learning rates, read from
the run that bench exported (`node dist/bench/train.js --model default --export DIR`).

  user tower: [ID row | mean of the item rows of the user's last 50 training items, the
              example's positive left out] -> Linear(128) ReLU -> Linear(64) -> L2 normalise
  item tower: [ID row | mean of the item's hashed tag rows] -> Linear(128) ReLU -> Linear(64) -> L2
  loss:       in-batch softmax, logits = u.v / T - log q(item), accidental hits masked (-1e9)
  optimizer:  SparseAdam on the three tables (nn.Embedding / F.embedding_bag, sparse=True;
              the history pool reads the item table, so it shares its gradient), Adam on the MLPs
              (eps 1e-7 as TF.js); the global gradient norm clipped to 5 as Graft measures it
              (gathered tower inputs' gradients + MLP gradients); the exported rate per step.

The pools and bags of a batch are gathered inside the timed step (numpy, vectorised), as
Graft gathers them inside its step. One thread. Timing as bench/train: 60 warm-up steps, then
5 rounds, median ms/step of the rounds. With the run's `graft_losses.bin`, prints Graft's
loss beside this replica's at the same steps (same start, same batches: the forward pass
agrees at step 1; later the lazy Adam bias corrections differ unless the run was exported
with `--bias-correction table`, which is SparseAdam's).

  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread \\
    /usr/bin/python3 bench/peers/torch_default_model.py --run /tmp/trainbench-run [--steps 300]

A benchmark's reference only: no test or CI depends on PyTorch.
"""
import argparse
import json
import os
import platform
import resource
import time

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

WARMUP = 60
ROUNDS = 5
MASKED = -1e9
EPS = 1e-7  # Graft's Adam epsilon (TF.js default)


def load_run(path):
    with open(os.path.join(path, "manifest.json")) as f:
        manifest = json.load(f)
    arrays = {}
    for name, spec in manifest["files"].items():
        data = np.fromfile(os.path.join(path, spec["file"]), dtype=np.dtype(spec["dtype"]).newbyteorder("<"))
        arrays[name] = data.reshape(spec["shape"])
    return manifest, arrays


def pooled(offsets, ids, rows, length=None, exclude=None):
    """CSR bags of `rows` (the last `length` entries of each, minus `exclude[i]`) -> (ids, offsets) for embedding_bag."""
    end = offsets[rows + 1]
    start = offsets[rows] if length is None else np.maximum(offsets[rows], end - length)
    lens = end - start
    seg = np.repeat(np.arange(len(rows)), lens)
    pos = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(start, lens)
    vals = ids[pos]
    if exclude is not None:
        keep = vals != exclude[seg]
        vals = vals[keep]
        seg = seg[keep]
    counts = np.bincount(seg, minlength=len(rows))
    bag_offsets = np.zeros(len(rows), dtype=np.int64)
    np.cumsum(counts[:-1], out=bag_offsets[1:])
    return torch.from_numpy(vals.astype(np.int64)), torch.from_numpy(bag_offsets)


class DefaultModel:
    def __init__(self, manifest, arrays):
        def weight(name):
            return torch.from_numpy(arrays[f"weight.{name}"].astype(np.float32).copy())

        self.user_table = torch.nn.Parameter(weight("user.embedding"))
        self.item_table = torch.nn.Parameter(weight("item.embedding"))
        self.token_table = torch.nn.Parameter(weight("token.embedding"))
        self.dense = {}
        for tower in ("user", "item"):
            layers = []
            for l in range(len(manifest["layers"])):
                # Graft's kernel is [in, out]: x @ kernel + bias.
                layers.append((torch.nn.Parameter(weight(f"{tower}.dense.{l}.kernel")), torch.nn.Parameter(weight(f"{tower}.dense.{l}.bias"))))
            self.dense[tower] = layers
        self.mlp_params = [p for tower in ("user", "item") for pair in self.dense[tower] for p in pair]
        self.history_offsets = arrays["history_offsets"].astype(np.int64)
        self.history_ids = arrays["history_ids"].astype(np.int64)
        self.token_offsets = arrays["token_offsets"].astype(np.int64)
        self.token_ids = arrays["token_ids"].astype(np.int64)
        self.history_length = manifest["userHistoryLength"]
        self.inv_t = 1.0 / manifest["temperature"]
        counts = np.maximum(arrays["item_counts"], 1)
        self.neg_log_q = torch.from_numpy((-np.log(counts / counts.sum())).astype(np.float32))
        self.clip = manifest["clipNorm"]
        self.tables = [self.user_table, self.item_table, self.token_table]
        self.sparse_opt = torch.optim.SparseAdam(self.tables, lr=1e-3, betas=(0.9, 0.999), eps=EPS)
        self.dense_opt = torch.optim.Adam(self.mlp_params, lr=1e-3, betas=(0.9, 0.999), eps=EPS)
        self.clipped = 0

    def mlp(self, tower, h):
        last = len(self.dense[tower]) - 1
        for l, (kernel, bias) in enumerate(self.dense[tower]):
            h = torch.addmm(bias, h, kernel)
            if l < last:
                h = F.relu(h)
        # Graft: x * rsqrt(|x|^2 + 1e-12)
        return h * torch.rsqrt((h * h).sum(1, keepdim=True) + 1e-12)

    def step(self, users_np, items_np, lr):
        users = torch.from_numpy(users_np.astype(np.int64))
        items = torch.from_numpy(items_np.astype(np.int64))
        # Bags of this batch: the users' history pools (positive left out) and the items' tags.
        hist_ids, hist_offsets = pooled(self.history_offsets, self.history_ids, users_np, self.history_length, items_np)
        tok_ids, tok_offsets = pooled(self.token_offsets, self.token_ids, items_np)
        for o in (self.sparse_opt, self.dense_opt):
            o.zero_grad(set_to_none=True)
            for g in o.param_groups:
                g["lr"] = lr
        x_user = torch.cat(
            [
                F.embedding(users, self.user_table, sparse=True),
                F.embedding_bag(hist_ids, self.item_table, hist_offsets, mode="mean", sparse=True),
            ],
            dim=1,
        )
        x_item = torch.cat(
            [
                F.embedding(items, self.item_table, sparse=True),
                F.embedding_bag(tok_ids, self.token_table, tok_offsets, mode="mean", sparse=True),
            ],
            dim=1,
        )
        # Graft clips by the norm of the gathered inputs' gradients (and the MLPs'): keep them.
        x_user.retain_grad()
        x_item.retain_grad()
        u = self.mlp("user", x_user)
        v = self.mlp("item", x_item)
        n = len(items_np)
        bias = self.neg_log_q[items].unsqueeze(0).expand(n, n)
        hits = (items.unsqueeze(1) == items.unsqueeze(0)) & ~torch.eye(n, dtype=torch.bool)
        logits = u @ v.t() * self.inv_t + bias.masked_fill(hits, MASKED)
        loss = F.cross_entropy(logits, torch.arange(n))
        loss.backward()
        squared = x_user.grad.pow(2).sum() + x_item.grad.pow(2).sum()
        for p in self.mlp_params:
            squared = squared + p.grad.pow(2).sum()
        norm = float(squared.sqrt())
        if norm > self.clip:
            self.clipped += 1
            scale = self.clip / norm
            for p in self.mlp_params:
                p.grad.mul_(scale)
            for p in self.tables:
                p.grad = p.grad * scale
        self.sparse_opt.step()
        self.dense_opt.step()
        return loss.item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, help="directory written by bench/train --model default --export")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    manifest, arrays = load_run(args.run)
    batch_users = arrays["batch_users"]
    batch_items = arrays["batch_items"]
    rates = arrays["learning_rates"]
    per_round = max(1, round(args.steps / ROUNDS))
    total = WARMUP + per_round * ROUNDS
    if total > len(rates):
        raise SystemExit(f"the run holds {len(rates)} steps but {total} are needed; export with at least --steps {args.steps}")
    torch.manual_seed(1)
    model = DefaultModel(manifest, arrays)
    losses = np.zeros(total)
    for s in range(WARMUP):
        losses[s] = model.step(batch_users[s], batch_items[s], float(rates[s]))
    round_ms = []
    round_cpu_ms = []
    s = WARMUP
    for _ in range(ROUNDS):
        start = time.perf_counter()
        cpu = time.process_time()
        for _ in range(per_round):
            losses[s] = model.step(batch_users[s], batch_items[s], float(rates[s]))
            s += 1
        round_ms.append((time.perf_counter() - start) * 1000 / per_round)
        round_cpu_ms.append((time.process_time() - cpu) * 1000 / per_round)
    ms = sorted(round_ms)[len(round_ms) // 2]
    cpu_ms = sorted(round_cpu_ms)[len(round_cpu_ms) // 2]
    batch = manifest["batchSize"]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}, python {platform.python_version()}, "
          f"BLAS via LD_LIBRARY_PATH={os.environ.get('LD_LIBRARY_PATH', '(default alternative)')}, load {load:.2f} {args.label}")
    print(f"# run {args.run}: scale {manifest['scale']}, {manifest['users']:,} users x {manifest['items']:,} items, "
          f"{manifest['trainExamples']:,} training examples, {manifest['stepsPerEpoch']:,} steps / epoch; "
          f"exported with Graft's bias correction per {manifest['adamBiasCorrection']}")
    print("| replica | ms / step | examples / s | rounds ms/step | CPU ms / step | examples / CPU s | one epoch (extrapolated) | steps clipped | peak RSS |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    print(f"| PyTorch sparse (SparseAdam + Adam) | {ms:.2f} | {batch * 1000 / ms:,.0f} | {' '.join(f'{r:.1f}' for r in round_ms)} | "
          f"{cpu_ms:.2f} | {batch * 1000 / cpu_ms:,.0f} | {manifest['stepsPerEpoch'] * ms / 60000:.1f} min | {model.clipped} of {total} | {rss:,.0f} MB |")
    if "graft_losses" in arrays:
        graft = arrays["graft_losses"]
        marks = sorted({1, 2, 10, 60, 120, 240, total} & set(range(1, min(total, len(graft)) + 1)))
        print()
        print("| step | Graft loss | PyTorch loss | difference |")
        print("|---:|---:|---:|---:|")
        for m in marks:
            print(f"| {m} | {graft[m - 1]:.4f} | {losses[m - 1]:.4f} | {losses[m - 1] - graft[m - 1]:+.4f} |")
        k = min(total, len(graft))
        diff = np.abs(losses[:k] - graft[:k])
        print(f"\nmax |difference| over steps 1-10: {diff[:10].max():.2e}; over all {k} steps: {diff.max():.3f}; "
              f"mean over the last 60: {np.mean(losses[k - 60:k] - graft[k - 60:k]):+.4f}")


if __name__ == "__main__":
    main()
