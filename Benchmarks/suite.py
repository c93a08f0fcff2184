#!/usr/bin/env python3
"""The benchmark suite: Gauge against PyTorch on six models at two batch sizes, side by side in
one run on this machine. For each model and batch, one after another: `gauge bench --json`, the
PyTorch twin in eager mode with fused Adam, and the twin under `torch.compile` with fused Adam
(same batch, threads, warm-up and timed steps; the warm-up pays torch.compile's compilation).
Prints a Markdown table (median ms/step, images/s, GFLOP/s by Gauge's FLOP count of the step,
peak RSS, and Gauge's throughput and peak RSS relative to PyTorch's faster configuration) and,
with --json FILE, every run's numbers.

    bash Benchmarks/reference/setup.sh            # once: the reference frameworks in a venv
    swift build -c release --product gauge
    python3 Benchmarks/suite.py                   # all six models, batch 100 and 250 (~15 min)
    python3 Benchmarks/suite.py --models cvae-mnist --batches 250 --steps 20
    python3 Benchmarks/suite.py --sample          # generation: the ACE renderers, batch 1, 100, 1000
"""
import argparse, json, os, platform, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
ACE = ["ace-cifar", "ace-rts", "ace-cifar-conv"]
SMALL = ["cvae-mnist", "conv-vae-cifar", "cnn-cifar"]
# Fewest timed and warm-up steps per model: a few-millisecond step needs many for a stable median.
LEAST = {"cvae-mnist": (50, 10), "conv-vae-cifar": (10, 2), "cnn-cifar": (10, 2)}

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--models", nargs="+", default=ACE + SMALL, choices=ACE + SMALL, metavar="MODEL",
                    help="models to run (default: all six: %(default)s)")
parser.add_argument("--batches", nargs="+", type=int, default=[100, 250], metavar="N", help="batch sizes (default: 100 250)")
parser.add_argument("--steps", type=int, default=5, help="timed steps per run (default: 5)")
parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default: 2)")
parser.add_argument("--threads", type=int, default=2, help="threads for every framework (default: 2)")
parser.add_argument("--no-compile", action="store_true", help="leave out torch.compile (its compilation takes minutes)")
parser.add_argument("--json", metavar="FILE", help="also write every run's numbers to FILE")
parser.add_argument("--sample", action="store_true",
                    help="time generation instead, for the ACE models: images/s of the renderer (decoder and pose warp) "
                         "at batch 1, 100, 1000, against the PyTorch twin's under torch.no_grad()")
parser.add_argument("--table", metavar="FILE", help="only print the table of a FILE written by --json")
parser.add_argument("--python", default=os.path.join(here, "reference", ".venv", "bin", "python"),
                    help="the Python that has torch (default: the venv setup.sh makes)")
parser.add_argument("--gauge", default=os.path.join(root, ".build", "release", "gauge"))
args = parser.parse_args()

for path, hint in [] if args.table else [(args.gauge, "swift build -c release --product gauge"),
                   (args.python, "bash Benchmarks/reference/setup.sh")]:
    if not os.path.exists(path):
        sys.exit(f"error: {path} is missing; run: {hint}")


def cpu():
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
        fields = dict(line.split(":", 1) for line in lines if ":" in line)
        get = lambda key: fields.get(key, "?").strip()
        avx = "AVX-512" if "avx512f" in get("Flags").split() else "AVX2"
        return f"{get('Model name')} family {get('CPU family')} model {get('Model')} ({avx})"
    except OSError:
        return platform.processor() or "unknown CPU"


def run(name, command, every_line=False):
    """The JSON object of the command's last line (with every_line, of each line that holds one)."""
    print(f"  {name} …", file=sys.stderr, flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), GAUGE_THREADS=str(args.threads))
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"error: {name} failed ({' '.join(command)}):\n{done.stderr[-2000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines] if every_line else json.loads(lines[-1])


def table(results, cpu_name, threads, steps, warmup):
    print(f"\nGauge against PyTorch, {threads} threads, the median of at least {steps} steps after {warmup} warm-up "
          f"(more for the small models: {', '.join(f'{m} {n}' for m, (n, _) in LEAST.items())}); {cpu_name}\n")
    print("| model | batch | Gauge ms | eager ms | compiled ms | Gauge img/s | Gauge GFLOP/s | Gauge RSS | PyTorch RSS "
          "| Gauge's throughput × | Gauge's peak RSS × |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in results:
        gauge = row["gauge"]
        others = [row[k] for k in ("eager", "compiled") if k in row]
        best = min(others, key=lambda r: r["median_ms"])
        row["throughput_ratio"] = round(best["median_ms"] / gauge["median_ms"], 3)
        # Against the smaller PyTorch footprint (torch.compile's peak includes its compiler).
        leanest = min(others, key=lambda r: r["peak_rss_mib"])
        row["peak_rss_ratio"] = round(gauge["peak_rss_mib"] / leanest["peak_rss_mib"], 3)
        row["best_pytorch"] = best["framework"]
        compiled = f"{row['compiled']['median_ms']:,.1f}" if "compiled" in row else "–"
        print(f"| {row['model']} | {row['batch']} | {gauge['median_ms']:,.1f} | {row['eager']['median_ms']:,.1f} | {compiled} "
              f"| {gauge['images_per_second']:,.0f} | {gauge['gflop_per_step'] / gauge['median_ms'] * 1000:.1f} "
              f"| {gauge['peak_rss_mib']:,.0f} MiB | {leanest['peak_rss_mib']:,.0f} MiB "
              f"| **{row['throughput_ratio']:.2f}** | {row['peak_rss_ratio']:.2f} |")
    print("\nGauge's throughput × is the faster PyTorch configuration's ms/step over Gauge's; peak RSS × is Gauge's "
          "over the smaller of PyTorch's two (torch.compile's includes its compiler, so usually eager's).")


if args.table:
    with open(args.table) as f:
        saved = json.load(f)
    table(saved["results"], saved["cpu"], saved["threads"], saved["steps"], saved["warmup"])
    sys.exit(0)

machine = cpu()
if args.sample:
    print(f"\nGeneration (renderer: decoder and pose warp), images/s, {args.threads} threads; {machine}\n")
    print("| model | batch | Gauge images/s | PyTorch no_grad images/s | Gauge's throughput × |")
    print("| --- | --- | --- | --- | --- |")
    rows = []
    for model in [m for m in args.models if m in ACE]:
        print(model, file=sys.stderr, flush=True)
        gauge = run("Gauge", [args.gauge, "bench", model, "--steps", "1", "--warmup", "0", "--batch", "10",
                              "--threads", str(args.threads), "--sample", "--json"], every_line=True)
        torch_rows = run("PyTorch", [args.python, os.path.join(here, "reference", "ace_torch.py"), model,
                                     "--sample", "--threads", str(args.threads)], every_line=True)
        for g in [g for g in gauge if "sample_batch" in g]:
            t = next(t for t in torch_rows if t["sample_batch"] == g["sample_batch"])
            rows.append({"model": model, "batch": g["sample_batch"], "gauge": g, "pytorch": t})
            print(f"| {model} | {g['sample_batch']} | {g['images_per_second']:,.0f} | {t['images_per_second']:,.0f} "
                  f"| **{g['images_per_second'] / t['images_per_second']:.2f}** |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": machine, "threads": args.threads, "sampling": rows}, f, indent=1)
    sys.exit(0)

results = []
for model in args.models:
    twin = os.path.join(here, "reference", "ace_torch.py" if model in ACE else "small_torch.py")
    for batch in args.batches:
        print(f"{model}, batch {batch}", file=sys.stderr, flush=True)
        least_steps, least_warmup = LEAST.get(model, (0, 0))
        steps, warmup = max(args.steps, least_steps), max(args.warmup, least_warmup)
        common = ["--batch", str(batch), "--steps", str(steps), "--warmup", str(warmup), "--threads", str(args.threads)]
        row = {"model": model, "batch": batch, "steps": steps, "warmup": warmup}
        row["gauge"] = run("Gauge", [args.gauge, "bench", model, "--json"] + common)
        row["eager"] = run("PyTorch eager, fused Adam", [args.python, twin, model, "--fused-adam"] + common)
        if not args.no_compile:
            row["compiled"] = run("PyTorch compiled, fused Adam", [args.python, twin, model, "--fused-adam", "--compile"] + common)
        results.append(row)

table(results, machine, args.threads, args.steps, args.warmup)
if args.json:
    with open(args.json, "w") as f:
        json.dump({"cpu": machine, "threads": args.threads, "steps": args.steps, "warmup": args.warmup,
                   "results": results}, f, indent=1)
    print(f"wrote {args.json}", file=sys.stderr)
