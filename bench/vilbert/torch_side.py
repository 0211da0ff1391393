#!/usr/bin/python3
"""The PyTorch side of bench/vilbert: the same full-size ViLBERT (the MMF
structure of scripts/fixtures/vilbert.py), one training step = forward +
backward + AdamW, and single-meme inference. Prints one JSON line."""
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "fixtures"))
import vilbert as ref  # noqa: E402


def main():
    batch, tokens, regions, steps, infer_runs, threads = (int(a) for a in sys.argv[1:7])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c = ref.FULL
    model = ref.Model(c, "mmf", "mul")
    decay, plain = [], []
    for name, p in model.named_parameters():
        (plain if ("bias" in name or "LayerNorm.weight" in name) else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": plain, "weight_decay": 0.0}],
                            lr=1e-5, eps=1e-8)

    def inputs(b):
        ids = torch.randint(1000, 30000, (b, tokens))
        seg = torch.zeros(b, tokens, dtype=torch.long)
        tmask = torch.ones(b, tokens)
        feat = torch.randn(b, regions, c["v_feature_size"]).abs()
        loc = torch.rand(b, regions, 5)
        imask = torch.ones(b, regions)
        return ids, seg, tmask, feat, loc, imask

    x = inputs(batch)
    labels = torch.randint(0, 2, (batch,))

    def step():
        opt.zero_grad()
        logits, _, _ = model(*x)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        opt.step()

    model.train()
    step()  # warm-up: allocates gradients and AdamW state
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    step_s = (time.perf_counter() - t0) / steps

    model.eval()
    one = inputs(1)
    times = []
    with torch.no_grad():
        model(*one)
        for _ in range(infer_runs):
            t0 = time.perf_counter()
            model(*one)
            times.append(time.perf_counter() - t0)
    times.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"step_s": step_s, "infer_s": times[len(times) // 2], "peak_rss": rss,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
