"""Uptrain a Recur model folder with PyTorch, on one process or many (torchrun, DDP).

    torchrun --nproc_per_node 8 uptrain_recur.py --model DIR --tokens train.bin --out TRAINED \
        --steps 1000 --batch 64 --seq 256 --lr 1e-4 [--teacher SOURCE_DIR] [--trainable lora]

The global batch of `--batch` sequences is split evenly over the processes; DDP averages the
gradients, so N processes take the same steps as one process with the same global batch. Step s
reads sequence i of its batch at token offset ((s·batch + i)·seq + phase) mod (tokens − seq − 1), so every
run of the same arguments sees the same data. `--seed` seeds torch and, when not 0, the phase (a seeded
offset into the tokens): two seeds then read differently cut windows from different starting points, which is what a
second seed of a run that starts from converted weights can vary (seed 0 keeps phase 0). `--tokens`: a JSON array of token ids, or raw
little-endian int32 (.bin). With `--teacher`, the loss is alpha·T²·KL(teacher ‖ student) +
(1 − alpha)·CE (knowledge distillation from the source model, as `recur train --distill` does).
`--schedule cosine --warmup W` follows Recur's schedule; `--exit-loss` trains every loop as an exit
(Recur's early-exit objective: weighted mean of each exit's loss, each distilled when `--teacher`).
Prints one JSON line per step from rank 0: {"step", "loss", "lr", "tokensPerSecond"} (the global
batch's mean loss; with --exit-loss also "exitLosses", shallowest first).
On CPU it sets torch's threads to the available cores, flushes denormals and keeps large buffers in
glibc's heap (see tune_cpu); torch linked to a reference BLAS is warned about.
The saved folder (rank 0, `save_pretrained`) loads back in Recur: `recur eval|generate|serve TRAINED`.
"""
import argparse
import ctypes
import json
import math
import os
import re
import sys
import time

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modeling_recur import RecurForCausalLM  # noqa: E402

# Recur's isTrainable (packages/train): depth-wise factors and MoS pools `.lora_A.`/`.lora_B.` (scaled templates too),
# scaled LoRA's `.lora_scale.` and hyper LoRA's `.lora_hyper.` tensors, per-loop norms.
ADAPTER = re.compile(r"\.lora_(?:[AB]|scale|hyper)\.|\.loop\d+\.weight$")


def trainable(name: str, selection: str) -> bool:
    """Recur's --trainable: 'lora' (LoRA as stored + per-loop norms), 'shared+lora' (all but the vocabulary matrices:
    also MASA atoms and coefficients), 'all'; a router always trains. MoS index tables are buffers, never trained."""
    if name.startswith("mor."):
        return True
    if selection == "lora":
        return bool(ADAPTER.search(name))
    if selection == "shared+lora":
        return name not in ("model.embed_tokens.weight", "lm_head.weight")
    return True


def learning_rate(args: argparse.Namespace, step: int) -> float:
    """Recur's LrSchedule (packages/train/src/optim/schedule.ts): linear warmup from lr/warmup to lr, then
    cosine from lr down to lr·min_lr_ratio at the last step (or constant)."""
    if args.schedule == "constant":
        return args.lr
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = min(1.0, max(0.0, (step - args.warmup) / max(1, args.steps - args.warmup)))
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def tune_cpu(threads: int) -> None:
    """What a small model's CPU step needs from torch 1.13 (each measured on stories260K, docs/scale-out.md):
    all cores (Debian's build starts with 1 thread), denormals flushed, and glibc malloc keeping the large
    attention buffers instead of mmap-ing them fresh every step (page faults were ~40% of the time)."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: allocations below 1 GiB come from the heap
        libc.mallopt(-1, (1 << 31) - 1)  # M_TRIM_THRESHOLD: and the heap is not handed back between steps
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass
    with open("/proc/self/maps", encoding="utf-8") if os.path.exists("/proc/self/maps") else open(os.devnull) as maps:
        if "/blas/libblas.so" in maps.read():
            print("warning: torch uses the reference BLAS (Debian libblas3, BLAS_INFO=generic), several times slower than "
                  "OpenBLAS: install libopenblas0-pthread (or put its libblas.so.3 on LD_LIBRARY_PATH)", file=sys.stderr)


def read_tokens(path: str) -> torch.Tensor:
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            return torch.tensor(json.load(f), dtype=torch.long)
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.int32).long()


def data_phase(seed: int, span: int) -> int:
    """The cyclic read's token offset: 0 for seed 0, else seeded (the same on every process)."""
    return 0 if seed == 0 else int(torch.randint(span, (1,), generator=torch.Generator().manual_seed(seed)).item())


def batch_at(tokens: torch.Tensor, step: int, batch: int, seq: int, rank: int, world: int, phase: int = 0) -> torch.Tensor:
    """This process's share [batch/world, seq + 1] of step `step`'s global batch."""
    span = tokens.numel() - seq - 1
    starts = [((step * batch + i) * seq + phase) % span for i in range(batch)]
    share = batch // world
    return torch.stack([tokens[s:s + seq + 1] for s in starts[rank * share:(rank + 1) * share]])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--out")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch", type=int, default=4, help="global batch (sequences), divisible by the process count")
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--trainable", choices=["lora", "shared+lora", "all"], default="lora")
    p.add_argument("--teacher", help="a model folder to distil from (e.g. the source the model was converted from)")
    p.add_argument("--distill-alpha", type=float, default=0.5)
    p.add_argument("--distill-temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0, help="torch seed; when not 0 also the phase of the cyclic data read")
    p.add_argument("--schedule", choices=["constant", "cosine"], default="constant", help="cosine: Recur's warmup + cosine decay")
    p.add_argument("--warmup", type=int, default=0, help="cosine: linear warmup steps")
    p.add_argument("--min-lr-ratio", type=float, default=0.1, help="cosine: final lr as a fraction of --lr")
    p.add_argument("--clip", type=float, default=0.0, help="clip the global gradient norm (0 = off)")
    p.add_argument("--exit-loss", action="store_true", help="train every loop as an exit (Recur's --exit-loss), distilled when --teacher")
    p.add_argument("--exit-weights", help="with --exit-loss: comma-separated weight per exit, shallowest first (default equal)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    p.add_argument("--log-every", type=int, default=1, help="print every n-th step (and the last)")
    args = p.parse_args()
    if args.schedule == "cosine" and not 0 <= args.warmup <= args.steps:
        sys.exit(f"--warmup {args.warmup} must be in [0, --steps {args.steps}]")
    exit_weights = [float(w) for w in args.exit_weights.split(",")] if args.exit_weights else None

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    cuda = torch.cuda.is_available()
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if cuda else "cpu")
    if args.batch % world:
        sys.exit(f"--batch {args.batch} is not divisible by the {world} processes")
    if not cuda:
        tune_cpu(args.threads)
    torch.manual_seed(args.seed)
    model = RecurForCausalLM.from_pretrained(args.model).to(device).train()
    for name, param in model.named_parameters():
        param.requires_grad_(trainable(name, args.trainable))
    teacher = RecurForCausalLM.from_pretrained(args.teacher).to(device).eval() if args.teacher else None
    # Exits are a method, not DDP's forward: with --exit-loss the processes average gradients by hand.
    ddp = world > 1 and not args.exit_loss
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if cuda else None) if ddp else model
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay) if args.optimizer == "adamw" else torch.optim.SGD(params, lr=args.lr)
    tokens = read_tokens(args.tokens)
    phase = data_phase(args.seed, tokens.numel() - args.seq - 1)
    distill = {"teacher_logits": None, "distill_alpha": args.distill_alpha, "distill_temperature": args.distill_temperature}
    started = time.time()
    for step in range(args.steps):
        seqs = batch_at(tokens, step, args.batch, args.seq, rank, world, phase).to(device)
        inputs, targets = seqs[:, :-1], seqs[:, 1:]
        with torch.no_grad():
            distill["teacher_logits"] = teacher(inputs, routing="none").logits if teacher is not None else None
        if args.exit_loss:
            loss, exits = model.exit_loss(inputs, targets, exit_weights, **distill)
        else:
            loss, exits = net(inputs, targets=targets, **distill).loss, []
        lr = learning_rate(args, step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        loss.backward()
        if args.exit_loss and world > 1:
            for q in params:
                dist.all_reduce(q.grad)
                q.grad /= world
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, args.clip)
        opt.step()
        report = torch.stack([loss.detach(), *[e.detach() for e in exits]])
        if world > 1:
            dist.all_reduce(report)
            report /= world
        if rank == 0 and (step % args.log_every == 0 or step == args.steps - 1):
            line = {"step": step, "loss": report[0].item(), "lr": lr, "tokensPerSecond": (step + 1) * args.batch * args.seq / (time.time() - started)}
            if exits:
                line["exitLosses"] = report[1:].tolist()
            print(json.dumps(line), flush=True)
    if args.out and rank == 0:
        model.save_pretrained(args.out)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
