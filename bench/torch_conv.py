# torch_conv.py — PyTorch reference timings for bench_conv.c: the same conv2d forward and
# backward passes, best of several runs.  Usage: torch_conv.py THREADS N C H W O K PAD RUNS
# Prints one line: "torch <version> fwd_ms bwd_input_ms bwd_weight_bias_ms total_ms".
import sys
import time

import torch
import torch.nn.functional as F


def best(fn, runs):
    fn()  # warm-up
    t = float("inf")
    for _ in range(runs):
        s = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - s)
    return t * 1e3


def main():
    threads, n, c, h, w, o, k, pad, runs = (int(a) for a in sys.argv[1:10])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.rand(n, c, h, w) * 2 - 1
    wt = torch.rand(o, c, k, k) * 2 - 1
    b = torch.rand(o)
    y = F.conv2d(x, wt, b, padding=pad)
    gy = torch.rand_like(y)
    cb = torch.ops.aten.convolution_backward
    args = ([o], [1, 1], [pad, pad], [1, 1], False, [0, 0], 1)

    def fwd():
        with torch.no_grad():
            F.conv2d(x, wt, b, padding=pad)

    def bwd_input():
        cb(gy, x, wt, *args, [True, False, False])

    def bwd_weight():
        cb(gy, x, wt, *args, [False, True, True])

    def total():
        xx = x.detach().requires_grad_()
        ww = wt.detach().requires_grad_()
        bb = b.detach().requires_grad_()
        F.conv2d(xx, ww, bb, padding=pad).backward(gy)

    print("torch %s %.3f %.3f %.3f %.3f" % (torch.__version__, best(fwd, runs),
          best(bwd_input, runs), best(bwd_weight, runs), best(total, runs)))


if __name__ == "__main__":
    main()
