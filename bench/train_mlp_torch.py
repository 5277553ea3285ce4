# PyTorch's side of bench/train_mlp.lua: the same MLP step (784-256-10, batch 128, forward,
# cross-entropy, backward, SGD), same thread count.  Prints "name microseconds" lines.
import sys, time, gc
import torch
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
torch.manual_seed(0)

def best_of(runs, iters, fn):
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        best = min(best, (time.perf_counter() - t0) / iters)
    return best * 1e6

def mlp_step(batch, momentum):
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10))
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=momentum)
    x = torch.rand(batch, 784)
    y = torch.randint(0, 10, (batch,))
    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    for _ in range(20):
        step()
    return best_of(5, 100, step)

print("mlp_step_b128 %.1f" % mlp_step(128, 0))
print("mlp_step_b128_momentum %.1f" % mlp_step(128, 0.9))
