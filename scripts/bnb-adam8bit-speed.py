"""bitsandbytes' CPU Adam8bit (block-wise 8-bit states, block 256), one thread, f32 parameters and
gradients: ns per element of `optimizer.step()`, medians of rounds, for comparison with optkern's
q8 Adam (`cargo bench --bench formats`, docs/formats-speed.md). Needs torch and bitsandbytes
(measured with torch 2.15.0 and bitsandbytes 0.50.2 from PyPI, in a venv):

    python3 scripts/bnb-adam8bit-speed.py [N ...]     (default 4096 and 16 Mi)
"""
import os, sys, time
os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch, bitsandbytes as bnb
torch.set_num_threads(1)
for n in [int(a) for a in sys.argv[1:]] or [4096, 1 << 24]:
    g = torch.Generator().manual_seed(0)
    p = torch.nn.Parameter((torch.rand(n, generator=g) - 0.5) * 2)
    opt = bnb.optim.Adam8bit([p], lr=1e-3, min_8bit_size=0)
    grads = [(torch.rand(n, generator=g) - 0.5) * 0.1 for _ in range(2)]
    steps = max(3, int(2e8 // n)) if n < (1 << 20) else 5
    times = []
    for r in range(7 if n >= (1 << 20) else 11):
        t0 = time.perf_counter()
        for s in range(steps):
            p.grad = grads[s & 1]
            opt.step()
        times.append((time.perf_counter() - t0) / steps / n * 1e9)
    st = opt.state[p]
    print(f"n={n} bnb Adam8bit CPU: median {sorted(times)[len(times)//2]:.3f} ns/elem, best {min(times):.3f}; state dtypes {st['state1'].dtype},{st['state2'].dtype}", flush=True)
