#!/usr/bin/env python3
"""Golden values for Mesh.Learning's ops, computed independently in double precision with the standard library only.

    python3 tests/Mesh.Learning.Tests/Golden/generate.py > tests/Mesh.Learning.Tests/Golden/golden.json

Inputs are deterministic (sines) and rounded to float32 first, so that the C# test feeds the ops exactly the values
used here. GoldenTests.cs compares the engine's float32 outputs with these at a relative tolerance.
"""
import json
import math
import struct


def f32(v):
    return struct.unpack("f", struct.pack("f", v))[0]


def values(n, seed, scale=1.0):
    return [f32(scale * math.sin(0.7 * i + seed) + 0.1 * math.cos(1.3 * i * seed)) for i in range(n)]


def layer_norm(x, rows, d, gamma, beta, eps):
    y = []
    for r in range(rows):
        row = x[r * d:(r + 1) * d]
        mean = sum(row) / d
        var = sum((v - mean) ** 2 for v in row) / d
        y += [(v - mean) / math.sqrt(var + eps) * gamma[j] + beta[j] for j, v in enumerate(row)]
    return y


def gelu(v):
    # tanh approximation, as the engine (and GPT-2) use
    return 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))


def attention(q, k, v, b, tq, tk, d, heads, mask):
    dh = d // heads
    y = [0.0] * (b * tq * d)
    for bi in range(b):
        for h in range(heads):
            for i in range(tq):
                qi = [q[(bi * tq + i) * d + h * dh + c] for c in range(dh)]
                scores = []
                for j in range(tk):
                    kj = [k[(bi * tk + j) * d + h * dh + c] for c in range(dh)]
                    scores.append(sum(a * b_ for a, b_ in zip(qi, kj)) / math.sqrt(dh))
                allowed = [j for j in range(tk) if mask[bi * tk + j] != 0]
                if not allowed:
                    continue
                top = max(scores[j] for j in allowed)
                weights = [math.exp(scores[j] - top) if j in allowed else 0.0 for j in range(tk)]
                total = sum(weights)
                for c in range(dh):
                    y[(bi * tq + i) * d + h * dh + c] = sum(weights[j] / total * v[(bi * tk + j) * d + h * dh + c] for j in range(tk))
    return y


def bce(z, t, w):
    losses = [max(zi, 0) - zi * ti + math.log1p(math.exp(-abs(zi))) for zi, ti in zip(z, t)]
    total_w = sum(w)
    mean = sum(wi * li for wi, li in zip(w, losses)) / total_w
    grad = [wi * (1 / (1 + math.exp(-zi)) - ti) / total_w for zi, ti, wi in zip(z, t, w)]
    return mean, sum(wi * li for wi, li in zip(w, losses)), grad


def main():
    golden = {"generator": "tests/Mesh.Learning.Tests/Golden/generate.py"}

    rows, d = 3, 5
    x, gamma, beta = values(rows * d, 1, 2.0), values(d, 2), values(d, 3, 0.5)
    golden["layerNorm"] = {"shape": [rows, d], "x": x, "gamma": gamma, "beta": beta, "eps": 1e-5,
                           "y": layer_norm(x, rows, d, gamma, beta, 1e-5)}

    gx = [f32(-6 + 0.25 * i) for i in range(49)]
    golden["gelu"] = {"x": gx, "y": [gelu(v) for v in gx]}

    b, tq, tk, dm, heads = 2, 3, 4, 4, 2
    q, k, v = values(b * tq * dm, 4), values(b * tk * dm, 5), values(b * tk * dm, 6)
    mask = [1, 1, 1, 0, 1, 0, 1, 1]
    golden["attention"] = {"b": b, "tq": tq, "tk": tk, "d": dm, "heads": heads, "q": q, "k": k, "v": v, "mask": mask,
                           "y": attention(q, k, v, b, tq, tk, dm, heads, mask)}

    z = values(6, 7, 4.0)
    t = [f32(p) for p in [0.0, 1.0, 0.25, 0.5, 0.9, 0.03]]
    w = [f32(p) for p in [1.0, 2.0, 0.5, 1.0, 0.1, 3.0]]
    mean, total, grad = bce(z, t, w)
    golden["bce"] = {"logits": z, "targets": t, "weights": w, "mean": mean, "sum": total, "gradMean": grad}

    print(json.dumps(golden, indent=1))


if __name__ == "__main__":
    main()
