#!/usr/bin/env python3
"""The anchor of GpuBench.gemm: torch.matmul on the same GPU, same shapes and dtypes.

Square n x n products for F32 (TF32 off, as torch's default: allow_tf32 is False for matmul) and
BF16; each timed with CUDA events over enough repetitions to run about a second, best of 5 rounds.
Writes JSON [{"dtype": "F32", "n": 4096, "ms": ..., "tflops": ...}, ...] to the file named by
the first argument (stdout when none). Needs only torch; Panamax itself never runs Python.
"""
import json
import sys

import torch


def time_ms(fn, reps):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")
    rows = []
    for name, dtype in (("F32", torch.float32), ("BF16", torch.bfloat16)):
        for n in (4096, 8192):
            g = torch.Generator(device=dev).manual_seed(1)
            a = torch.randn(n, n, device=dev, dtype=dtype, generator=g)
            b = torch.randn(n, n, device=dev, dtype=dtype, generator=g)
            out = torch.empty(n, n, device=dev, dtype=dtype)
            fn = lambda: torch.matmul(a, b, out=out)
            for _ in range(3):
                fn()
            torch.cuda.synchronize()
            once = time_ms(fn, 3)
            reps = max(3, int(1000 / max(once, 1e-3)))
            ms = min(time_ms(fn, reps) for _ in range(5))
            rows.append({"dtype": name, "n": n, "ms": ms, "tflops": 2 * n ** 3 / (ms * 1e-3) / 1e12,
                         "device": torch.cuda.get_device_name(dev), "torch": torch.__version__})
    text = json.dumps(rows, indent=1)
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
