"""Test driver: the exported model's early-exit loss (optionally distilled) and uptrain_recur.py's schedule.

stdin: {"dir", "teacher", "teacherLogits" ([B][T][V], optional: else the teacher folder's), "batch", "weights", "alpha", "temperature", "schedule": {"lr", "steps", "warmup", "minLrRatio"}}
-> stdout {"ce": {"total", "exits"}, "distilled": {"total", "exits"}, "distilled64", "lrs", "starts"}.
"""
import argparse
import json
import sys

import torch

job = json.load(sys.stdin)
sys.path.insert(0, job["dir"])
from modeling_recur import RecurForCausalLM  # noqa: E402
from uptrain_recur import batch_at, data_phase, learning_rate  # noqa: E402

model = RecurForCausalLM.from_pretrained(job["dir"])
teacher = RecurForCausalLM.from_pretrained(job["teacher"])
batch = torch.tensor(job["batch"])
inputs, targets = batch[:, :-1], batch[:, 1:]
out = {}
with torch.no_grad():
    total, exits = model.exit_loss(inputs, targets)
    out["ce"] = {"total": float(total), "exits": [float(e) for e in exits]}
    teacher_logits = torch.tensor(job["teacherLogits"]) if "teacherLogits" in job else teacher(inputs, routing="none").logits
    total, exits = model.exit_loss(inputs, targets, job["weights"], teacher_logits, job["alpha"], job["temperature"])
    out["distilled"] = {"total": float(total), "exits": [float(e) for e in exits]}
    total, _ = model.double().exit_loss(inputs, targets, job["weights"], teacher_logits.double(), job["alpha"], job["temperature"])
    out["distilled64"] = float(total)  # the same loss in float64: how far float32 summation moves it
s = job["schedule"]
args = argparse.Namespace(schedule="cosine", lr=s["lr"], steps=s["steps"], warmup=s["warmup"], min_lr_ratio=s["minLrRatio"])
out["lrs"] = [learning_rate(args, step) for step in range(s["steps"] + 2)]
# The first token of step 0's sequences over 100 ids (seq 4, batch 3) at seeds 0, 1, 1 and 2: where each seed's cyclic read starts.
ids = torch.arange(100)
out["starts"] = [batch_at(ids, 0, 3, 4, 0, 1, data_phase(seed, 100 - 4 - 1))[:, 0].tolist() for seed in (0, 1, 1, 2)]
json.dump(out, sys.stdout)
