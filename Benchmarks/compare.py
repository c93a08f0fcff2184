#!/usr/bin/env python3
"""Gauge against PyTorch and JAX on one model's training step, one after another on this machine:
same batch, same thread count, same number of steps after warm-up. Prints a Markdown table:
median step time, images/s, whole-step GFLOP/s (Gauge's FLOP count of the step for all three),
peak RSS, and Gauge's throughput and memory relative to each.

    bash Benchmarks/reference/setup.sh            # once: the reference frameworks in a venv
    swift build -c release --product gauge
    python3 Benchmarks/compare.py ace-cifar --batch 250 --steps 5 --threads 2
"""
import argparse, json, os, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("model", choices=["ace-cifar", "ace-cifar-conv", "ace-rts"])
parser.add_argument("--batch", type=int, default=250)
parser.add_argument("--steps", type=int, default=5)
parser.add_argument("--warmup", type=int, default=1)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--python", default=os.path.join(here, "reference", ".venv", "bin", "python"),
                    help="the Python that has torch and jax (default: the venv setup.sh makes)")
parser.add_argument("--gauge", default=os.path.join(root, ".build", "release", "gauge"))
args = parser.parse_args()

for path, hint in [(args.gauge, "swift build -c release --product gauge"),
                   (args.python, "bash Benchmarks/reference/setup.sh")]:
    if not os.path.exists(path):
        sys.exit(f"error: {path} is missing; run: {hint}")

common = ["--batch", str(args.batch), "--steps", str(args.steps), "--warmup", str(args.warmup),
          "--threads", str(args.threads)]
env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
runs = [
    ("Gauge", [args.gauge, "bench", args.model, "--json"] + common),
    ("PyTorch, Adam", [args.python, os.path.join(here, "reference", "ace_torch.py"), args.model] + common),
    ("PyTorch, fused Adam", [args.python, os.path.join(here, "reference", "ace_torch.py"), args.model, "--fused-adam"] + common),
    ("JAX (jit)", [args.python, os.path.join(here, "reference", "ace_jax.py"), args.model] + common),
]
results = {}
for name, command in runs:
    print(f"running {name} …", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"error: {name} failed:\n{done.stderr[-2000:]}")
    results[name] = json.loads(done.stdout.strip().splitlines()[-1])

gflop = results["Gauge"]["gflop_per_step"]
gauge = results["Gauge"]
print(f"\n{args.model}, batch {args.batch}, {args.threads} threads, median of {args.steps} steps after {args.warmup} warm-up\n")
print("| framework | ms/step | images/s | GFLOP/s | peak RSS | Gauge's throughput × | Gauge's peak RSS × |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for name, r in results.items():
    speed = "" if name == "Gauge" else f"{r['median_ms'] / gauge['median_ms']:.2f}"
    memory = "" if name == "Gauge" else f"{gauge['peak_rss_mib'] / r['peak_rss_mib']:.2f}"
    print(f"| {name} | {r['median_ms']:,.0f} | {r['images_per_second']:.1f} | {gflop / r['median_ms'] * 1000:.1f} | "
          f"{r['peak_rss_mib'] / 1024:.2f} GiB | {speed} | {memory} |")
