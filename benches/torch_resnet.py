#!/usr/bin/env python3
"""PyTorch CPU peer of benches/inverse_cnn.rs: the same ResNet-18/50 (torchvision layout,
two input channels, five outputs, bias-free convolutions + batch norm), RMSE loss and SGD with
momentum 0.9 and weight decay 1e-4, on the same four (architecture, side, batch) cases.
Prints the same table as the Rust bench: median time of full training steps after warm-up.

Prints "skipped" and exits 0 when torch is not installed (torchvision is not needed).
Thread count: torch's default unless MEXP_BENCH_THREADS is set.
"""

import os
import statistics
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    print("torch not installed: skipped")
    sys.exit(0)


def conv_bn(c_in, c_out, k, s):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, s, (k - 1) // 2, bias=False), nn.BatchNorm2d(c_out))


class Basic(nn.Module):
    expansion = 1

    def __init__(self, c_in, planes, stride):
        super().__init__()
        self.a = conv_bn(c_in, planes, 3, stride)
        self.b = conv_bn(planes, planes, 3, 1)
        self.down = conv_bn(c_in, planes, 1, stride) if stride != 1 or c_in != planes else None

    def forward(self, x):
        out = self.b(torch.relu(self.a(x)))
        return torch.relu(out + (self.down(x) if self.down is not None else x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in, planes, stride):
        super().__init__()
        out = planes * 4
        self.a = conv_bn(c_in, planes, 1, 1)
        self.b = conv_bn(planes, planes, 3, stride)
        self.c = conv_bn(planes, out, 1, 1)
        self.down = conv_bn(c_in, out, 1, stride) if stride != 1 or c_in != out else None

    def forward(self, x):
        y = self.c(torch.relu(self.b(torch.relu(self.a(x)))))
        return torch.relu(y + (self.down(x) if self.down is not None else x))


class ResNet(nn.Module):
    def __init__(self, block, depths, in_channels=2, outputs=5):
        super().__init__()
        self.stem = conv_bn(in_channels, 64, 7, 2)
        self.pool = nn.MaxPool2d(3, 2, 1)
        blocks, c_in = [], 64
        for stage, (planes, depth) in enumerate(zip([64, 128, 256, 512], depths)):
            for i in range(depth):
                blocks.append(block(c_in, planes, 2 if stage > 0 and i == 0 else 1))
                c_in = planes * block.expansion
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in, outputs)

    def forward(self, x):
        x = self.blocks(self.pool(torch.relu(self.stem(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def bench(name, make, side, batch, steps=3):
    torch.manual_seed(0)
    model = make()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
    x = torch.sin(torch.arange(batch * 2 * side * side, dtype=torch.float32).reshape(batch, 2, side, side) * 0.021)
    y = torch.rand(batch, 5)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.sqrt(((model(x) - y) ** 2).mean())
        loss.backward()
        opt.step()

    step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    t = statistics.median(times)
    print(f"torch {name:9} {side:3}x{side:<3} batch {batch:2}: {t:6.3f} s/step, {batch / t:7.2f} images/s")


def main():
    threads = os.environ.get("MEXP_BENCH_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    r18 = lambda: ResNet(Basic, [2, 2, 2, 2])
    r50 = lambda: ResNet(Bottleneck, [3, 4, 6, 3])
    for name, make, side, batch in [
        ("resnet18", r18, 64, 32),
        ("resnet50", r50, 64, 32),
        ("resnet18", r18, 224, 16),
        ("resnet50", r50, 224, 8),
    ]:
        bench(name, make, side, batch)


if __name__ == "__main__":
    main()
