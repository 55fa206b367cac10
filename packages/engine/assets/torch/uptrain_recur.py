"""Uptrain a Recur model folder with PyTorch, on one process or many (torchrun, DDP).

    torchrun --nproc_per_node 8 uptrain_recur.py --model DIR --tokens train.bin --out TRAINED \
        --steps 1000 --batch 64 --seq 256 --lr 1e-4 [--teacher SOURCE_DIR] [--trainable lora]

The global batch of `--batch` sequences is split evenly over the processes; DDP averages the
gradients, so N processes take the same steps as one process with the same global batch. Step s
reads sequence i of its batch at token offset ((s·batch + i)·seq) mod (tokens − seq − 1), so every
run of the same arguments sees the same data. `--tokens`: a JSON array of token ids, or raw
little-endian int32 (.bin). With `--teacher`, the loss is alpha·T²·KL(teacher ‖ student) +
(1 − alpha)·CE (knowledge distillation from the source model, as `recur train --distill` does).
Prints one JSON line per step from rank 0: {"step", "loss"} (the global batch's mean loss).
The saved folder (rank 0, `save_pretrained`) loads back in Recur: `recur eval|generate|serve TRAINED`.
"""
import argparse
import json
import os
import re
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modeling_recur import RecurForCausalLM  # noqa: E402

ADAPTER = re.compile(r"\.lora_[AB]\.|\.loop\d+\.weight$")


def trainable(name: str, selection: str) -> bool:
    """Recur's --trainable: 'lora' (factors + per-loop norms), 'shared+lora' (all but the vocabulary matrices), 'all'; a router always trains."""
    if name.startswith("mor."):
        return True
    if selection == "lora":
        return bool(ADAPTER.search(name))
    if selection == "shared+lora":
        return name not in ("model.embed_tokens.weight", "lm_head.weight")
    return True


def read_tokens(path: str) -> torch.Tensor:
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            return torch.tensor(json.load(f), dtype=torch.long)
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.int32).long()


def batch_at(tokens: torch.Tensor, step: int, batch: int, seq: int, rank: int, world: int) -> torch.Tensor:
    """This process's share [batch/world, seq + 1] of step `step`'s global batch."""
    span = tokens.numel() - seq - 1
    starts = [((step * batch + i) * seq) % span for i in range(batch)]
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
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    cuda = torch.cuda.is_available()
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if cuda else "cpu")
    if args.batch % world:
        sys.exit(f"--batch {args.batch} is not divisible by the {world} processes")
    torch.manual_seed(args.seed)
    model = RecurForCausalLM.from_pretrained(args.model).to(device).train()
    for name, param in model.named_parameters():
        param.requires_grad_(trainable(name, args.trainable))
    teacher = RecurForCausalLM.from_pretrained(args.teacher).to(device).eval() if args.teacher else None
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if cuda else None) if world > 1 else model
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay) if args.optimizer == "adamw" else torch.optim.SGD(params, lr=args.lr)
    tokens = read_tokens(args.tokens)
    for step in range(args.steps):
        seqs = batch_at(tokens, step, args.batch, args.seq, rank, world).to(device)
        inputs, targets = seqs[:, :-1], seqs[:, 1:]
        with torch.no_grad():
            teacher_logits = teacher(inputs, routing="none").logits if teacher is not None else None
        out = net(inputs, targets=targets, teacher_logits=teacher_logits, distill_alpha=args.distill_alpha, distill_temperature=args.distill_temperature)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        loss = out.loss.detach().clone()
        if world > 1:
            dist.all_reduce(loss)
            loss /= world
        if rank == 0:
            print(json.dumps({"step": step, "loss": loss.item()}), flush=True)
    if args.out and rank == 0:
        model.save_pretrained(args.out)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
