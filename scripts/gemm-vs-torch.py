#!/usr/bin/env python3
"""optkern's GEMM beside PyTorch's single-thread f32 torch.mm, in one process, and both as a
share of this core's FMA peak (scripts/fma_peak.c, built and run in the same session).

    python3 scripts/gemm-vs-torch.py [LIB] [--repeats 7]

LIB is an optkern shared library (default: the x86-64-v3 build of scripts/build-capi.sh,
target/capi/lib/liboptkern.so.0 at level 3, AVX2 + FMA: `--level`). Needs torch (pip install torch).
For each size, the repeats alternate torch and optkern (each repeat times a batch of calls
lasting ~0.3 s and keeps its per-call time); the medians are reported, and the ratio of
medians. The machine is shared: quote ratios from one run, not absolute times across days.
"""
import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class GemmConfig(ctypes.Structure):
    _fields_ = [("alpha", ctypes.c_float), ("beta", ctypes.c_float), ("trans_a", ctypes.c_bool),
                ("trans_b", ctypes.c_bool), ("numerics", ctypes.c_uint32)]


def per_call(fn, budget=0.3):
    fn()
    calls, t0 = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        dt = time.perf_counter() - t0
        if dt >= budget:
            return dt / calls


def fma_peak():
    exe = os.path.join(ROOT, "target", "fma_peak")
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    subprocess.run(["gcc", "-O2", "-mavx2", "-mfma", os.path.join(ROOT, "scripts", "fma_peak.c"),
                    "-o", exe], check=True)
    return float(subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lib", nargs="?", default=os.path.join(ROOT, "target/capi/lib/liboptkern.so.0"))
    ap.add_argument("--level", type=int, default=3, help="optkern_select_level (0 = the best)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--sizes", default="256,512,1024")
    args = ap.parse_args()
    lib = ctypes.CDLL(args.lib)
    if lib.optkern_select_level(ctypes.c_uint32(args.level)) != 0:
        sys.exit(f"this CPU or library lacks level {args.level}")
    lib.optkern_gemm_config_default.restype = GemmConfig
    lib.optkern_gemm_scratch_len.restype = ctypes.c_size_t
    lib.optkern_gemm_scratch_len.argtypes = [ctypes.c_size_t] * 3
    lib.optkern_gemm.restype = ctypes.c_uint32
    p, z = ctypes.c_void_p, ctypes.c_size_t
    lib.optkern_gemm.argtypes = [p, z, p, z, p, z, z, z, z, ctypes.POINTER(GemmConfig), p, z, p]
    cfg = lib.optkern_gemm_config_default()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, "
          f"MKL {torch.backends.mkl.is_available()}; optkern {args.lib}")
    peak = fma_peak()
    print(f"FMA peak (scripts/fma_peak.c, 12 chains of 8-lane FMA): {peak:.1f} GFLOPS")
    print(f"{'n':>6} {'torch.mm GFLOPS':>16} {'optkern GFLOPS':>15} {'optkern/torch':>14} "
          f"{'torch % peak':>13} {'optkern % peak':>15}")
    for n in [int(s) for s in args.sizes.split(",")]:
        g = torch.Generator().manual_seed(n)
        a = torch.rand(n, n, generator=g) - 0.5
        b = torch.rand(n, n, generator=g) - 0.5
        c_torch, c_ok = torch.empty(n, n), torch.empty(n, n)
        scratch = torch.empty(lib.optkern_gemm_scratch_len(n, n, n))
        ptr = lambda t: ctypes.c_void_p(t.data_ptr())
        args_ok = (ptr(c_ok), n, ptr(a), n, ptr(b), n, n, n, n, ctypes.byref(cfg), ptr(scratch),
                   scratch.numel(), None)

        def run_optkern():
            status = lib.optkern_gemm(*args_ok)
            assert status == 0, status

        run_optkern()
        torch.mm(a, b, out=c_torch)
        err = (c_ok - c_torch).abs().max().item() / c_torch.abs().max().item()
        assert err < 1e-4, f"optkern and torch.mm disagree at {n}: {err:e}"
        t_torch, t_ok = [], []
        for _ in range(args.repeats):
            t_torch.append(per_call(lambda: torch.mm(a, b, out=c_torch)))
            t_ok.append(per_call(run_optkern))
        flops = 2.0 * n ** 3
        gt, go = flops / statistics.median(t_torch) * 1e-9, flops / statistics.median(t_ok) * 1e-9
        print(f"{n:>6} {gt:>16.1f} {go:>15.1f} {go / gt:>13.0%} {gt / peak:>12.0%} "
              f"{go / peak:>14.0%}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
