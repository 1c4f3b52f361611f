"""
CPU time of the numpy/scipy implicit-ALS peer (../shared/peers/als_numpy.py, not copied here):
runs its `run()` once per --dtype, as its own script does, and prints wall and CPU
(time.process_time) ms per sweep, timed like bench/als (confidence build + 5 sweeps, / 5).
Under load the CPU figure is the steadier one; compare it with bench/als's CPU column.
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 bench/peers/als_numpy_cpu.py \
    --peers /work/shared/peers [--dtype float64,float32] [--cg 3]
"""
import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", default="../shared/peers")
    ap.add_argument("--dtype", default="float64,float32")
    ap.add_argument("--cg", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, args.peers)
    import als_numpy  # noqa: E402
    import numpy as np  # noqa: E402

    users, items = als_numpy.generate()
    for dtype in args.dtype.split(","):
        cpu0 = time.process_time()
        ms, solve_ms, _, obj = als_numpy.run(users, items, args.cg, np.dtype(dtype))
        cpu_ms = (time.process_time() - cpu0) * 1000 / als_numpy.SWEEPS
        print(f"numpy {dtype} cg{args.cg}: {ms:.0f} ms/sweep (CPU {cpu_ms:.0f} ms), solves only {solve_ms:.0f}, objective {obj:.4f}, load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
