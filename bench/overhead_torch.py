# PyTorch's side of bench/overhead.lua: same ops, same sizes, same thread count.
import sys, time, gc
import torch
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)

def best_of(runs, iters, fn):
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        fn(iters)
        best = min(best, (time.perf_counter() - t0) / iters)
    return best * 1e6

a, b = torch.rand(10), torch.rand(10)
def add(n):
    for _ in range(n):
        c = a + b
print("add_10 %.4f" % best_of(5, 200000, add))

w = torch.rand(10, requires_grad=True)
x = torch.rand(10)
def step(n):
    for _ in range(n):
        loss = (w * x).sum()
        loss.backward()
print("autograd_step_10 %.4f" % best_of(5, 50000, step))
