"""Test driver: runs an exported Recur folder in PyTorch and prints what the TypeScript test compares.

stdin: {"dir", "ids", "routings", "greedy": {"prompt", "n"}, "train": {"batch", "lr", "trainable"?}, "save"} -> stdout JSON.
"""
import json
import sys

import torch

job = json.load(sys.stdin)
sys.path.insert(0, job["dir"])
from modeling_recur import RecurForCausalLM  # noqa: E402
from uptrain_recur import trainable  # noqa: E402

torch.manual_seed(0)
model = RecurForCausalLM.from_pretrained(job["dir"])
ids = torch.tensor(job["ids"])
out = {"logits": {}, "aux": {}, "depths": {}}
with torch.no_grad():
    for routing in job["routings"]:
        res = model(ids[None], routing=routing)
        out["logits"][routing] = res.logits[0].tolist()
        out["aux"][routing] = None if res.aux_loss is None else float(res.aux_loss)
        out["depths"][routing] = None if res.depths is None else res.depths[0].tolist()
out["greedy"] = model.generate_greedy(job["greedy"]["prompt"], job["greedy"]["n"])

# One SGD step on what Recur's --trainable selects (default lora: LoRA as stored, per-loop norms, router), Recur's training routing.
train = job["train"]
model.train()
params = {n: p for n, p in model.named_parameters() if trainable(n, train.get("trainable", "lora"))}
for n, p in model.named_parameters():
    p.requires_grad_(n in params)
batch = torch.tensor(train["batch"])
loss = model(batch[:, :-1], targets=batch[:, 1:]).loss
loss.backward()
out["train"] = {"loss": float(loss), "grads": {n: p.grad.flatten().tolist() for n, p in params.items() if p.grad is not None}}
torch.optim.SGD(list(params.values()), lr=train["lr"]).step()
model.eval()
with torch.no_grad():
    out["trainedLogits"] = model(ids[None], routing=job["routings"][0]).logits[0].tolist()
model.save_pretrained(job["save"])
json.dump(out, sys.stdout)
