"""The PyTorch side of cdam's benchmarks, pinned: 2 threads, transformers Dinov2Model on the converted
weights, float32, CPU. Each measurement runs in its own child process so that its peak RSS is its own.

    python3 scripts/reference/bench_torch.py --model DIR [--json] [--reps 5]

Measures: forward ms/image at 224 (batch 1 and 8, default attention = sdpa, inference_mode); the
sgemm rate of the same run (a 2048^3 product and the batch-8 fc1 shape); CDAM at 224 and 448 the
notebook's way (hook on the last norm1, full autograd backward, parameters requiring grad) and with
the backward stopped at the last norm1 output (layers 0..10 under no_grad, T detached, last block
and final norm by hand, no parameter grads); TAM with batch 8 at 224 (256 forward passes, one run);
RP at 224 (eager attention, gradients of every block's attention probabilities).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

PHASES = ["sgemm", "forward", "cdam224", "cdam448", "rp224", "tam224"]


def timed(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_phase(phase, model_dir, reps):
    import torch
    torch.set_num_threads(2)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import reference_model as ref

    rows = []

    def row(name, seconds, unit="ms", per=1, note=""):
        median, low, high = seconds
        scale = 1000.0 / per if unit == "ms" else 1.0 / per
        rows.append({"measure": name, "median": median * scale, "min": low * scale, "max": high * scale,
                     "unit": unit, "note": note})

    if phase == "sgemm":
        for m, k, n, label in [(2048, 2048, 2048, "sgemm 2048x2048x2048"),
                               (8 * 257, 384, 1536, "sgemm fc1 shape 2056x384x1536")]:
            a, b = torch.randn(m, k), torch.randn(k, n)
            median, low, high = timed(lambda: torch.mm(a, b), max(reps, 5) * 2, warmup=2)
            flop = 2.0 * m * k * n
            rows.append({"measure": label, "median": flop / median / 1e9, "min": flop / high / 1e9,
                         "max": flop / low / 1e9, "unit": "GFLOP/s", "note": "torch.mm, 2 threads"})
        return rows, peak_rss_mb()

    torch.manual_seed(0)
    c = torch.randn(384)

    if phase == "forward":
        model = ref.load_model(model_dir, attention="sdpa")
        for batch, r in [(1, reps * 2), (8, reps)]:
            x = torch.randn(batch, 3, 224, 224)

            def forward():
                with torch.inference_mode():
                    model(pixel_values=x).last_hidden_state[:, 0]
            row(f"forward 224 batch {batch}", timed(forward, r), per=batch, note="ms per image, sdpa, inference_mode")
        return rows, peak_rss_mb()

    if phase in ("cdam224", "cdam448"):
        size = 224 if phase == "cdam224" else 448
        model = ref.load_model(model_dir, attention="sdpa")
        x = torch.randn(1, 3, size, size)
        last = model.encoder.layer[-1]
        kept = {}

        def keep(module, inputs, output):
            output.retain_grad()
            kept["T"] = output
        handle = last.norm1.register_forward_hook(keep)

        def notebook():
            model.zero_grad(set_to_none=True)
            e = model(pixel_values=x).last_hidden_state[:, 0]
            (e @ c).sum().backward()
            t = kept["T"]
            return (t[0, 1:] * t.grad[0, 1:]).sum(-1)
        row(f"CDAM {size} notebook (full autograd)", timed(notebook, reps if size == 224 else max(2, reps // 2)),
            note="hook on last norm1, params require grad")
        handle.remove()
        rss_notebook = peak_rss_mb()
        for p in model.parameters():
            p.requires_grad_(False)

        def stopped():
            t, e = ref.stopped_forward(model, x)
            (e @ c).sum().backward()
            return (t[0, 1:] * t.grad[0, 1:]).sum(-1)
        row(f"CDAM {size} stopped at last norm1", timed(stopped, reps if size == 224 else max(2, reps // 2)),
            note="layers 0..10 under no_grad")
        rows[0]["note"] += f"; peak RSS {rss_notebook:.0f} MB"
        return rows, peak_rss_mb()

    if phase == "rp224":
        model = ref.load_model(model_dir, attention="eager")
        x = torch.randn(1, 3, 224, 224)
        recorder = ref.Recorder(model, attentions=True)

        def rp():
            recorder.reset()
            model.zero_grad(set_to_none=True)
            e = model(pixel_values=x).last_hidden_state[:, 0]
            (e @ c).sum().backward()
            return ref.relevance_propagation([a[0] for a in recorder.attentions],
                                             [a.grad[0] for a in recorder.attentions])
        row("RP 224", timed(rp, reps), note="eager attention, full autograd")
        return rows, peak_rss_mb()

    if phase == "tam224":
        model = ref.load_model(model_dir, attention="sdpa")
        x = torch.randn(1, 3, 224, 224)
        target = ref.Target("mean", "mean", c=c)
        row("TAM 224 batch 8", timed(lambda: ref.token_ablation(model, x, [target], batch=8), 1, warmup=0),
            unit="s", note="256 ablated forward passes, inference_mode")
        return rows, peak_rss_mb()

    raise SystemExit(f"unknown phase {phase}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="converted model directory")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per measure (median reported)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated subset of " + ",".join(PHASES))
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        rows, rss = run_phase(args.phase, args.model, args.reps)
        print(json.dumps({"rows": rows, "peak_rss_mb": rss}))
        return 0

    import torch
    import transformers
    results = []
    for phase in args.phases.split(","):
        if not args.json:
            print(f"running {phase} ...", file=sys.stderr, flush=True)
        child = subprocess.run([sys.executable, os.path.abspath(__file__), "--model", args.model,
                                "--reps", str(args.reps), "--phase", phase],
                               capture_output=True, text=True)
        if child.returncode != 0:
            print(f"phase {phase} failed:\n{child.stderr}", file=sys.stderr)
            return 1
        out = json.loads(child.stdout.strip().splitlines()[-1])
        for r in out["rows"]:
            r["phase_peak_rss_mb"] = out["peak_rss_mb"]
            results.append(r)

    document = {"torch": torch.__version__, "transformers": transformers.__version__, "threads": 2,
                "model": os.path.abspath(args.model), "reps": args.reps, "results": results}
    if args.json:
        print(json.dumps(document, indent=1))
        return 0
    print(f"PyTorch {torch.__version__}, transformers {transformers.__version__}, 2 threads, "
          f"median of {args.reps} (min..max)")
    print(f"{'measure':40} {'median':>10} {'min..max':>20}  unit     peak RSS  note")
    for r in results:
        span = f"{r['min']:.1f}..{r['max']:.1f}"
        print(f"{r['measure']:40} {r['median']:10.1f} {span:>20}  {r['unit']:8} {r['phase_peak_rss_mb']:5.0f} MB  {r['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
