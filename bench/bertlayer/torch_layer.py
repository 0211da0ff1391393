"""PyTorch side of bench/bertlayer: one BERT-base layer forward+backward.

Run by main.go with the same sizes; prints one line "ms=<mean ms per iter>".
"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

batch, tokens, hidden, heads, inter, iters, warmup, threads = map(int, sys.argv[1:9])
torch.set_num_threads(threads)
torch.manual_seed(0)


class BertLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.o, self.ln1 = nn.Linear(hidden, hidden), nn.LayerNorm(hidden, eps=1e-12)
        self.i, self.out, self.ln2 = nn.Linear(hidden, inter), nn.Linear(inter, hidden), nn.LayerNorm(hidden, eps=1e-12)
        self.drop = nn.Dropout(0.1)

    def forward(self, x, mask):
        b, t, _ = x.shape
        hd = hidden // heads
        split = lambda y: y.view(b, t, heads, hd).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        p = self.drop(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, -1))
        ctx = (p @ v).transpose(1, 2).reshape(b, t, hidden)
        h = self.ln1(self.drop(self.o(ctx)) + x)
        return self.ln2(self.drop(self.out(F.gelu(self.i(h)))) + h)


layer = BertLayer().train()
x = torch.randn(batch, tokens, hidden, requires_grad=True)
mask = torch.zeros(batch, 1, 1, tokens)
mask[:, :, :, tokens - tokens // 8:] = -10000.0
dy = torch.randn(batch, tokens, hidden)
times = []
for it in range(warmup + iters):
    start = time.perf_counter()
    layer(x, mask).backward(dy)
    if it >= warmup:
        times.append(time.perf_counter() - start)
    layer.zero_grad(set_to_none=False)
    x.grad = None
print(f"ms={1000 * sum(times) / len(times):.3f} min={1000 * min(times):.3f}")
