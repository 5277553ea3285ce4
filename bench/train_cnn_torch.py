# PyTorch's side of bench/train_cnn.lua: the same CNN, optimizer, batch size and random data,
# one epoch, same thread count.  Prints "name value" lines (s per epoch, ms per step).
# usage: python3 bench/train_cnn_torch.py [threads] [images]
import sys, time, gc
import torch
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
n = int(sys.argv[2]) if len(sys.argv) > 2 else 60000
batch = 64
torch.manual_seed(0)
nn = torch.nn
model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
loss_fn = nn.CrossEntropyLoss()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
X = torch.rand(n, 1, 28, 28)
y = torch.randint(0, 10, (n,))

def step(i):
    xb, yb = X[i:i + batch], y[i:i + batch]
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(xb), yb)
    loss.backward()
    opt.step()

for i in range(5):
    step(i * batch)
gc.collect()
t0 = time.perf_counter()
steps = 0
for i in range(0, n, batch):
    step(i)
    steps += 1
dt = time.perf_counter() - t0
print("cnn_epoch_s %.2f" % (dt * 60000 / n))
print("cnn_step_b64_ms %.2f" % (dt / steps * 1e3))
