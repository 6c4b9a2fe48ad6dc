"""Training memory and step time of SpIEL-AG, SpIEL-MA, LoRA (with and without dropout) and full
fine-tuning (thesis §7.5.2, Table 7.4, Appendix E.5), side by side on the same Llama-shaped model, at an
equal trainable-parameter count for the PEFT methods (SpIEL's d_phi = LoRA's r x sum(d_in + d_out)),
and against the floor that any of them must pay: the frozen model's forward plus the backward of the
input gradients only (``floor``: the token embeddings require the gradient, no weight does, no
optimiser), so ``step / floor`` is what a method's weight gradients, optimiser and index updates cost.

Every method runs in its own subprocess on identical random weights and token batches:

- CPU: peak resident memory (``ru_maxrss``) of the subprocess, also net of the RSS right after the
  model was built (the training overhead), and the mean time of a full SpIEL update period
  (S = 20 steps after a 5-step warm-up: 15 plain steps, then a 5-step gradient window whose first
  step forms the dense gradient, ending with a drop/grow update), so SpIEL-AG pays for its windows.
  The methods' steps are interleaved (one step of each in turn), so that on a shared machine they
  all see the same background load.
- CUDA (``--device cuda``): Appendix E.5's measurement, the lowest memory limit (binary search at
  1 GiB granularity, ``torch.cuda.set_per_process_memory_fraction``) at which 30 training steps
  run, and the mean step time at that limit; plus ``max_memory_allocated`` without a limit.

Ratios are printed relative to LoRA. The sparse backward (Appendix E.4) is what SpIEL uses here;
``--grad-mode dense`` measures the thesis's dense-then-gather implementation instead.

    python benchmarks/spiel_memory_speed.py [--hidden 512 --layers 2 --seq 256 --batch 2 --rank 4]
                                            [--methods spiel_ag,spiel_ma,lora,lora_nodrop,full,floor]

Real shapes (a GPU): ``--hidden 4096 --intermediate 11008 --heads 32 --layers 32 --vocab 32000 --seq 2048
--batch 1 --rank 64 --dtype bfloat16 --device cuda``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

METHODS = ("spiel_ag", "spiel_ma", "lora", "lora_nodrop", "full", "floor")


def current_rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def build_model(args: argparse.Namespace):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=args.hidden, intermediate_size=args.intermediate, num_hidden_layers=args.layers,
                         num_attention_heads=args.heads, num_key_value_heads=args.heads, vocab_size=args.vocab,
                         max_position_embeddings=args.seq, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).to(getattr(torch, args.dtype)).to(args.device)
    if args.checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def prepare(method: str, model, args: argparse.Namespace):
    """(optimizer or None, selector or None, trainable count)."""
    import torch

    from xlt.methods.spiel.sparse_linear import attach_spiel, find_target_linears, lora_equivalent_budget

    for param in model.parameters():
        param.requires_grad_(method == "full")
    if method == "floor":
        return None, None, 0
    if method == "full":
        return torch.optim.AdamW(model.parameters(), lr=1e-5), None, sum(p.numel() for p in model.parameters())
    if method in ("lora", "lora_nodrop"):
        from xlt.methods.peft.wrappers import attach_lora

        lora = attach_lora(model, rank=args.rank, alpha=16, dropout=0.1 if method == "lora" else 0.0)
        params = list(lora.trainable_parameters().values())
        return torch.optim.AdamW(params, lr=1e-4), None, sum(p.numel() for p in params)
    from xlt.methods.spiel.optim import SparseSM3, SpielAdamW
    from xlt.methods.spiel.selection import SpielAG, SpielMA, UpdateSchedule

    budget = lora_equivalent_budget(find_target_linears(model.model), args.rank)
    modules = attach_spiel(model.model, budget, seed=0)
    modules.set_grad_mode(args.grad_mode)
    schedule = UpdateSchedule(total_steps=args.steps, interval=20, window=5, replace_rate=0.2)
    if method == "spiel_ag":
        optimizer = SpielAdamW(modules.parameters(), lr=1e-4, weight_decay=30.0)
        return optimizer, SpielAG(modules, optimizer, schedule), modules.num_entries
    optimizer = SparseSM3([(layer.values, layer.indices, layer.shape) for _, layer in modules], lr=1e-3,
                          weight_decay=0.3)
    return optimizer, SpielMA(modules, optimizer, schedule), modules.num_entries


class Trainer:
    """One method's model, optimiser and (for SpIEL) selector; ``step(t)`` runs optimiser step t."""

    def __init__(self, method: str, args: argparse.Namespace):
        import torch

        torch.set_num_threads(args.threads)
        self.torch, self.args, self.method = torch, args, method
        self.cuda = args.device == "cuda"
        import transformers  # noqa: F401  (libraries loaded: the process's floor)

        self.floor = current_rss_mib()
        if self.cuda and args.memory_limit_gib:
            total = torch.cuda.get_device_properties(0).total_memory
            torch.cuda.set_per_process_memory_fraction(min(1.0, args.memory_limit_gib * 2**30 / total))
        self.model = build_model(args)
        self.optimizer, self.selector, self.trainable = prepare(method, self.model, args)
        self.model.train()
        self.baseline = current_rss_mib()
        self.generator = torch.Generator().manual_seed(1)
        self.loss = float("nan")

    def step(self, step: int) -> float:
        torch, args = self.torch, self.args
        ids = torch.randint(3, args.vocab, (args.batch, args.seq), generator=self.generator).to(args.device)
        if self.cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        if self.selector is not None:
            self.selector.begin_micro_batch(step, True)
        if self.optimizer is None:  # the floor: gradients of the activations only, from the embeddings up
            embeds = self.model.model.embed_tokens(ids).detach().requires_grad_(True)
            loss = self.model(inputs_embeds=embeds, labels=ids).loss
            loss.backward()
        else:
            loss = self.model(input_ids=ids, labels=ids).loss
            loss.backward()
        if self.selector is not None:
            self.selector.before_optimizer_step(step)
        if self.optimizer is not None:
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        if self.selector is not None:
            self.selector.after_optimizer_step(step)
        if self.cuda:
            torch.cuda.synchronize()
        self.loss = float(loss.detach())
        return time.perf_counter() - start

    def summary(self, times: list[float]) -> dict:
        measured = times[self.args.warmup:]
        result = {"method": self.method, "ok": True, "trainable": self.trainable,
                  "step_s": sum(measured) / len(measured), "loss": self.loss, "floor_mib": self.floor,
                  "baseline_mib": self.baseline,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if self.cuda:
            result["max_allocated_gib"] = self.torch.cuda.max_memory_allocated() / 2**30
        return result


def worker(method: str, args: argparse.Namespace) -> dict:
    """All steps in one go (the CUDA memory probes)."""
    trainer = Trainer(method, args)
    try:
        times = [trainer.step(step) for step in range(1, args.steps + 1)]
    except trainer.torch.OutOfMemoryError:
        return {"method": method, "ok": False}
    return trainer.summary(times)


def serve(method: str, args: argparse.Namespace) -> None:
    """Step on request (``step N`` on stdin), so that the parent can interleave the methods' steps:
    on a shared, loaded machine every method then sees the same background load."""
    trainer = Trainer(method, args)
    print("ready", flush=True)
    times = []
    for line in sys.stdin:
        command = line.split()
        if command[0] == "step":
            times.append(trainer.step(int(command[1])))
            print(f"{times[-1]}", flush=True)
        else:
            print(json.dumps(trainer.summary(times)), flush=True)
            return


def interleaved(methods: list[str], argv: list[str], steps: int) -> dict[str, dict]:
    processes = {m: subprocess.Popen([sys.executable, __file__, *argv, "--worker", m, "--serve"], text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE) for m in methods}
    try:
        for method, process in processes.items():
            if process.stdout.readline().strip() != "ready":
                raise SystemExit(f"{method} worker failed to start")
        for step in range(1, steps + 1):
            for process in processes.values():  # one step of each method in turn
                process.stdin.write(f"step {step}\n")
                process.stdin.flush()
                float(process.stdout.readline())
        results = {}
        for method, process in processes.items():
            process.stdin.write("done\n")
            process.stdin.flush()
            results[method] = json.loads(process.stdout.readline())
        return results
    finally:
        for process in processes.values():
            process.wait(timeout=60)


def run_worker(method: str, argv: list[str], limit: int | None = None) -> dict:
    command = [sys.executable, __file__, *argv, "--worker", method]
    if limit is not None:
        command += ["--memory-limit-gib", str(limit)]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        if "OutOfMemoryError" in out.stderr or "out of memory" in out.stderr:
            return {"method": method, "ok": False}
        raise SystemExit(f"{method} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def lowest_passing_limit(method: str, argv: list[str], high: int) -> tuple[int, dict]:
    """Appendix E.5: binary search (1 GiB granularity) for the lowest limit at which training runs."""
    low, best = 0, None
    while high - low > 1:
        middle = (low + high) // 2
        result = run_worker(method, argv, middle)
        if result["ok"]:
            high, best = middle, result
        else:
            low = middle
    if best is None:
        best = run_worker(method, argv, high)
    return high, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--intermediate", type=int, default=1408)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=4000)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--rank", type=int, default=4, help="LoRA rank; SpIEL gets the same number of entries")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--grad-mode", default="sparse", choices=["sparse", "dense"])
    parser.add_argument("--checkpointing", action="store_true", help="activation checkpointing")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--max-gib", type=int, default=80, help="CUDA: upper end of the binary search")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory-limit-gib", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker and args.serve:
        serve(args.worker, args)
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args)))
        return
    argv = [a for a in sys.argv[1:]]
    methods = args.methods.split(",")
    load_before = os.getloadavg()[0]
    if args.device == "cuda":
        rows = {}
        for method in methods:
            limit, result = lowest_passing_limit(method, argv + ["--steps", "30"], args.max_gib)
            rows[method] = {**result, "limit_gib": limit}
    else:
        rows = interleaved(methods, argv, args.steps)
    shape = (f"Llama-shaped: hidden {args.hidden}, intermediate {args.intermediate}, {args.layers} layers, "
             f"vocab {args.vocab}; batch {args.batch} x {args.seq} tokens, {args.dtype}, {args.device}, "
             f"{args.threads} threads{', activation checkpointing' if args.checkpointing else ''}, "
             f"load average {load_before:.1f} at the start")
    print(shape)
    reference, floor = rows.get("lora"), rows.get("floor")

    def ratio(value: float, base: float | None) -> str:
        return f"{value / base:.2f}" if base else ""

    if args.device == "cuda":
        print(f"{'method':12} {'trainable':>12} {'GiB limit':>10} {'max alloc':>10} {'step s':>8} {'mem/LoRA':>9} "
              f"{'time/LoRA':>10} {'step/floor':>11}")
        for method, row in rows.items():
            print(f"{method:12} {row['trainable']:12,d} {row['limit_gib']:10d} {row['max_allocated_gib']:10.1f} "
                  f"{row['step_s']:8.3f} {ratio(row['limit_gib'], reference and reference['limit_gib']):>9} "
                  f"{ratio(row['step_s'], reference and reference['step_s']):>10} "
                  f"{ratio(row['step_s'], floor and floor['step_s']):>11}")
    else:
        # memory: peak RSS above the process's floor (interpreter + libraries), i.e. model + training;
        # overhead: peak RSS above the RSS with the model built (optimiser state, gradients, activations)
        print(f"{'method':12} {'trainable':>12} {'peak MiB':>9} {'memory':>7} {'overhead':>9} {'step s':>8} "
              f"{'mem/LoRA':>9} {'ovh/LoRA':>9} {'time/LoRA':>10} {'step/floor':>11}")
        for method, row in rows.items():
            memory, overhead = row["peak_mib"] - row["floor_mib"], row["peak_mib"] - row["baseline_mib"]
            lora = (reference["peak_mib"] - reference["floor_mib"], reference["peak_mib"] - reference["baseline_mib"],
                    reference["step_s"]) if reference else (None, None, None)
            print(f"{method:12} {row['trainable']:12,d} {row['peak_mib']:9.0f} {memory:7.0f} {overhead:9.0f} "
                  f"{row['step_s']:8.3f} {ratio(memory, lora[0]):>9} {ratio(overhead, lora[1]):>9} "
                  f"{ratio(row['step_s'], lora[2]):>10} {ratio(row['step_s'], floor and floor['step_s']):>11}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print(json.dumps({"config": vars(args), "results": rows}))


if __name__ == "__main__":
    main()
