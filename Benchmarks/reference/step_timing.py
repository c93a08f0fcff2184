"""The timing every reference step shares, whatever its framework: warm-up steps, timed steps,
and one JSON line like `gauge bench --json` (what `compare.py` and `suite.py` read)."""
import json, resource, statistics, sys, time


def timed_steps(step, warmup, steps):
    """Runs `step(i)` warmup + steps times and returns the timed steps' seconds. `step` returns
    the step's loss with its work finished (a value `float` reads without waiting)."""
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        loss = step(i)
        seconds = time.perf_counter() - start
        if i >= warmup:
            times.append(seconds)
        print(f"step {i + 1}: {seconds * 1000:.1f} ms, loss {float(loss):.1f}", file=sys.stderr)
    return times


def report(framework, args, times):
    """Prints the JSON line: the median step, images/s and the process's peak RSS."""
    median = statistics.median(times)
    print(json.dumps({
        "framework": framework, "model": args.model, "batch": args.batch, "threads": args.threads,
        "steps": args.steps, "median_ms": round(median * 1000, 2), "images_per_second": round(args.batch / median, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))
