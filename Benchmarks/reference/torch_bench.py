"""The timing loop every PyTorch twin shares: the same steps, threads and JSON line as
`gauge bench --json`, in eager mode or under `torch.compile`, with Adam or fused Adam."""
import argparse

import torch

from step_timing import report, timed_steps


def arguments(description, models, sample=False):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("model", choices=sorted(models))
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fused-adam", action="store_true", help="torch.optim.Adam(fused=True)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model (inductor; the warm-up steps pay the compilation)")
    if sample:
        parser.add_argument("--sample", action="store_true",
                            help="time generation instead: the renderer under torch.no_grad() at batch 1, 100, 1000")
    return parser.parse_args()


def time_steps(args, model, inputs):
    """Times `args.steps` Adam steps of `model(*inputs)`, which returns the loss terms (sums over
    the batch), after `args.warmup` untimed ones; prints one JSON line."""
    forward = torch.compile(model) if args.compile else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=args.fused_adam or None)

    def step(i):
        optimizer.zero_grad(set_to_none=True)
        loss = sum(forward(*inputs))
        loss.backward()
        optimizer.step()
        return loss

    times = timed_steps(step, args.warmup, args.steps)
    configuration = ("fused Adam" if args.fused_adam else "Adam") + (", compiled" if args.compile else "")
    report(f"pytorch {torch.__version__} {configuration}", args, times)
