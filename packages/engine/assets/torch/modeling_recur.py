"""A Recur model in plain PyTorch (>= 1.13): written by `recur export MODEL --torch --out DIR`.

    from modeling_recur import RecurForCausalLM
    model = RecurForCausalLM.from_pretrained(DIR)
    out = model(input_ids, labels=input_ids)        # out.logits [B, T, V], out.loss
    model.save_pretrained(NEW_DIR)                  # a folder Recur loads back (eval, generate, serve)

The structure is the TypeScript graph's (packages/graph, packages/lora, packages/router), so the two
can be read side by side: the stored layers are tied into prologue -> shared block looped N times ->
epilogue (Relaxed Recursive Transformers, Bae et al. 2024, arXiv 2410.20672); every executed step
of a shared layer adds its own depth-wise LoRA delta and may use its own RMSNorm weights; a
Mixture-of-Recursions router (Bae et al. 2025, arXiv 2507.10524) picks how many loops each token runs.
The shared forms Recur also stores (scaled, hypernetwork and MoS LoRA; MASA attention atoms) live in
sharing_recur.py beside this file, in their stored form, so training reaches what Recur saves.
Parameter names are Recur's checkpoint keys, so `state_dict()` is the safetensors file as it is.

Per-token depth runs densely: every row goes through each loop and rows that did not run it are
restored afterwards; attention masks make a loop's queries see exactly the keys Recur's KV modes give
them (recursion-wise: the tokens that ran the loop; shared: loop 0's keys; copy: each token's last
loop). The results are Recur's; the FLOP saving of gathering the active rows is not taken.

Uses the `safetensors` and `transformers` packages where installed; without them it reads and
writes the safetensors format itself. Sequences of one batch have equal length (no padding mask).
"""
import json
import math
import os
import re
import shutil
import struct
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

try:  # optional: AutoModelForCausalLM.from_pretrained(DIR, trust_remote_code=True) through config.json's auto_map
    from transformers import PretrainedConfig as _ConfigBase
    from transformers import PreTrainedModel as _ModelBase
except ImportError:  # plain PyTorch
    _ConfigBase, _ModelBase = object, nn.Module

try:
    from safetensors.torch import load_file as _st_load, save_file as _st_save
except ImportError:
    _st_load = _st_save = None

try:  # transformers' remote code imports this file inside a package, with its sibling beside it
    from .sharing_recur import Weight, attach_sharing, check_mos_indices
except ImportError:  # a plain import from the folder (on sys.path)
    from sharing_recur import Weight, attach_sharing, check_mos_indices

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
COPIED_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "uptrain_recur.py")
MODULE_FILES = ("modeling_recur.py", "sharing_recur.py")  # this file and the shared forms it imports


# ---------------------------------------------------------------- safetensors without the package
_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """Tensors of a .safetensors file by name (8-byte little-endian header length, JSON header, data)."""
    if _st_load is not None:
        return _st_load(path)
    with open(path, "rb") as f:
        data = f.read()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    body = bytearray(data[8 + size:])  # writable: torch.frombuffer warns on read-only memory
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}; expected one of {sorted(_DTYPES)}")
        start, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        size = torch.empty((), dtype=dtype).element_size()  # torch 1.13 has no dtype.itemsize
        flat = torch.frombuffer(body, dtype=dtype, count=(end - start) // size, offset=start) if end > start else torch.empty(0, dtype=dtype)
        out[name] = flat.reshape(info["shape"]).clone()
    return out


def write_safetensors(path: str, tensors: Dict[str, torch.Tensor]) -> None:
    """Float32 tensors, header padded to 8 bytes; producer 'recur' marks a folder Recur may replace."""
    metadata = {"format": "pt", "producer": "recur"}
    tensors = {k: v.detach().to(torch.float32).contiguous().cpu() for k, v in tensors.items()}
    if _st_save is not None:
        return _st_save(tensors, path, metadata=metadata)
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, t in tensors.items():
        blob = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for blob in blobs:
            f.write(blob)


# ---------------------------------------------------------------- config
class RecurConfig(_ConfigBase):
    """config.json as Recur writes it: Hugging Face Llama fields plus Recur's `recur` section."""

    model_type = "llama"

    def __init__(self, **raw):
        if _ConfigBase is not object:
            super().__init__(**{k: raw[k] for k in ("bos_token_id", "eos_token_id", "tie_word_embeddings") if k in raw})
        self.raw = dict(raw)
        self.hidden_size = raw["hidden_size"]
        self.intermediate_size = raw["intermediate_size"]
        self.num_hidden_layers = raw["num_hidden_layers"]
        self.num_attention_heads = raw["num_attention_heads"]
        self.num_key_value_heads = raw.get("num_key_value_heads") or raw["num_attention_heads"]
        self.head_dim = raw.get("head_dim") or raw["hidden_size"] // raw["num_attention_heads"]
        self.vocab_size = raw["vocab_size"]
        self.rms_norm_eps = raw.get("rms_norm_eps", 1e-6)
        self.rope_theta = raw.get("rope_theta", 10000.0)
        self.rope_scaling = raw.get("rope_scaling")
        self.tie_word_embeddings = raw.get("tie_word_embeddings", False)
        self.attention_bias = raw.get("attention_bias", False)
        self.recur = raw.get("recur") or {}

    @classmethod
    def from_json_file(cls, path: str) -> "RecurConfig":
        with open(path, encoding="utf-8") as f:
            return cls(**json.load(f))

    def to_json_string(self, *args, **kwargs) -> str:
        return json.dumps(self.raw, indent=2) + "\n"


def execution_steps(config: RecurConfig) -> List[Tuple[int, int]]:
    """(stored layer, loop) of every executed step: the k-th run of a stored layer is loop k."""
    order = config.recur.get("layerOrder") or list(range(config.num_hidden_layers))
    runs: Dict[int, int] = {}
    steps = []
    for unique in order:
        steps.append((unique, runs.get(unique, 0)))
        runs[unique] = runs.get(unique, 0) + 1
    return steps


def loop_structure(steps: List[Tuple[int, int]]):
    """prologue, loops[r], epilogue: the shared (repeated) steps form N contiguous copies of one block."""
    runs: Dict[int, int] = {}
    for unique, _ in steps:
        runs[unique] = runs.get(unique, 0) + 1
    shared = [i for i, (unique, _) in enumerate(steps) if runs[unique] > 1]
    if not shared:
        return [], [steps], []
    first, last = shared[0], shared[-1]
    middle = steps[first:last + 1]
    n = runs[middle[0][0]]
    k = len(middle) // n
    loops = [middle[r * k:(r + 1) * k] for r in range(n)]
    block = [u for u, _ in loops[0]]
    if k * n != len(middle) or any([u for u, _ in loop] != block or any(l != r for _, l in loop) for r, loop in enumerate(loops)):
        return None  # SEQUENCE tying: no per-token depth, but the plain forward still runs
    return steps[:first], loops, steps[last + 1:]


def rope_inverse_frequencies(config: RecurConfig) -> torch.Tensor:
    """theta^(-2i/headDim), scaled as Hugging Face does (linear, llama3); float64, rounded once to float32."""
    dim, scaling = config.head_dim, config.rope_scaling
    freqs = [config.rope_theta ** (-2 * i / dim) for i in range(dim // 2)]
    kind = (scaling or {}).get("rope_type") or (scaling or {}).get("type")
    if kind == "linear":
        freqs = [f / scaling["factor"] for f in freqs]
    elif kind == "llama3":
        old = scaling["original_max_position_embeddings"]
        low, high, factor = scaling["low_freq_factor"], scaling["high_freq_factor"], scaling["factor"]

        def scale(f: float) -> float:
            wavelen = 2 * math.pi / f
            if wavelen < old / high:
                return f
            if wavelen > old / low:
                return f / factor
            smooth = (old / wavelen - low) / (high - low)
            return (1 - smooth) * f / factor + smooth * f

        freqs = [scale(f) for f in freqs]
    elif scaling:
        raise ValueError(f"config.json: rope_scaling type {kind!r} is not supported (linear, llama3)")
    return torch.tensor(freqs, dtype=torch.float64).to(torch.float32)


# ---------------------------------------------------------------- layers
class LoopLinear(nn.Module):
    """x·Wᵀ (+ b), plus LoRA at loop r: scale·(x·A_rᵀ)·B_rᵀ. Depth-wise LoRA stores A_r, B_r here
    (lora_A.loop{r}.weight [rank, in], lora_B [out, rank]); a shared form (sharing_recur.py: scaled, hyper, MoS)
    sets `factors` to make them; MASA sets `derive` to make W from its atoms (W is then not stored)."""

    def __init__(self, d_in: int, d_out: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d_out, d_in))
        self.bias = nn.Parameter(torch.zeros(d_out)) if bias else None
        self.lora_A, self.lora_B = nn.ModuleDict(), nn.ModuleDict()
        self.lora_multiplier = 1.0  # recur.loraScale
        self.factors = None  # loop -> (A, B) or None, from a shared LoRA form
        self.derive = None  # () -> W [out, in], from MASA atoms

    def forward(self, x: torch.Tensor, loop: int) -> torch.Tensor:
        y = F.linear(x, self.weight if self.derive is None else self.derive(), self.bias)
        factors = self.loop_factors(loop)
        if factors is not None:
            delta = F.linear(F.linear(x, factors[0]), factors[1])
            y = y + (delta if self.lora_multiplier == 1 else delta * self.lora_multiplier)
        return y

    def loop_factors(self, loop: int):
        """A [rank, in] and B [out, rank] of loop r (made now for a shared form: once per loop per forward), or None."""
        if self.factors is not None:
            return self.factors(loop)
        key = f"loop{loop}"
        if key in self.lora_A and key in self.lora_B:
            return self.lora_A[key].weight, self.lora_B[key].weight
        return None


class LoopRMSNorm(nn.Module):
    """RMSNorm whose weight may be replaced at loop r by `loop{r}.weight` (per-loop norms)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor, loop: int) -> torch.Tensor:
        own = getattr(self, f"loop{loop}", None)
        w = own.weight if own is not None else self.weight
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, T, heads, hd]: channel i and i + hd/2 turn by angle position·invFreq[i] (rotate-half)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    def __init__(self, c: RecurConfig):
        super().__init__()
        d, hd = c.hidden_size, c.head_dim
        self.heads, self.kv_heads, self.head_dim = c.num_attention_heads, c.num_key_value_heads, hd
        self.q_proj = LoopLinear(d, self.heads * hd, c.attention_bias)
        self.k_proj = LoopLinear(d, self.kv_heads * hd, c.attention_bias)
        self.v_proj = LoopLinear(d, self.kv_heads * hd, c.attention_bias)
        self.o_proj = LoopLinear(self.heads * hd, d, False)

    def forward(self, x, loop, rope, keys):
        """x [B, T, d]; keys(k, v) -> (k, v, allowed [B or 1, T, S]) says what the queries see (the KV mode)."""
        b, t, _ = x.shape
        q = apply_rope(self.q_proj(x, loop).view(b, t, self.heads, self.head_dim), *rope)  # [B, T, H, hd]
        k = apply_rope(self.k_proj(x, loop).view(b, t, self.kv_heads, self.head_dim), *rope)  # [B, T, KH, hd]
        v = self.v_proj(x, loop).view(b, t, self.kv_heads, self.head_dim)  # [B, T, KH, hd]
        k, v, allowed = keys(k, v)
        group = self.heads // self.kv_heads  # GQA: query head h reads KV head h // group
        k = k.repeat_interleave(group, dim=2).permute(0, 2, 3, 1)  # [B, H, hd, S]
        v = v.repeat_interleave(group, dim=2).transpose(1, 2)  # [B, H, S, hd]
        # [B, H, T, S] is by far the largest tensor of a small model's step (H·T floats per token against d):
        # scale q before the product and add the mask in place (a [B|1, T, S] bias), so each layer allocates it twice, not four times.
        scores = (q.transpose(1, 2) * (1 / math.sqrt(self.head_dim))) @ k  # [B, H, T, S]
        scores.add_(torch.zeros(allowed.shape, device=x.device).masked_fill_(~allowed, float("-inf"))[:, None])
        out = torch.softmax(scores, dim=-1) @ v  # [B, H, T, hd]
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.heads * self.head_dim), loop)


class MLP(nn.Module):
    def __init__(self, c: RecurConfig):
        super().__init__()
        self.gate_proj = LoopLinear(c.hidden_size, c.intermediate_size, False)
        self.up_proj = LoopLinear(c.hidden_size, c.intermediate_size, False)
        self.down_proj = LoopLinear(c.intermediate_size, c.hidden_size, False)

    def forward(self, x, loop):
        return self.down_proj(F.silu(self.gate_proj(x, loop)) * self.up_proj(x, loop), loop)  # SwiGLU


class DecoderLayer(nn.Module):
    """Pre-norm Llama block: h + attn(norm(h)), then + mlp(norm(h))."""

    def __init__(self, c: RecurConfig):
        super().__init__()
        self.input_layernorm = LoopRMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = LoopRMSNorm(c.hidden_size, c.rms_norm_eps)
        self.mlp = MLP(c)

    def forward(self, h, loop, rope, keys):
        h = h + self.self_attn(self.input_layernorm(h, loop), loop, rope, keys)
        return h + self.mlp(self.post_attention_layernorm(h, loop), loop)


class RecurModel(nn.Module):
    def __init__(self, c: RecurConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(c) for _ in range(c.num_hidden_layers))
        self.norm = LoopRMSNorm(c.hidden_size, c.rms_norm_eps)


# ---------------------------------------------------------------- Mixture-of-Recursions routers
class ScalarRouter(nn.Module):
    """Expert choice, one per recursion: 'linear' w·h, or 'mlp' fc2·SiLU(fc1·h + b) -> one logit per token."""

    def __init__(self, d: int, architecture: str, hidden: int):
        super().__init__()
        if architecture == "mlp":
            self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, 1, bias=False)
        else:
            self.weight = nn.Parameter(torch.zeros(1, d))

    def forward(self, h):  # [B, T, d] -> [B, T]
        if hasattr(self, "fc1"):
            return self.fc2(F.silu(self.fc1(h))).squeeze(-1)
        return F.linear(h, self.weight).squeeze(-1)


class TokenRouter(nn.Linear):
    """Token choice: d -> N depth logits; `balance_bias` [N] (loss-free balancing) shifts the choice, never the gate."""

    def __init__(self, d: int, n: int, with_bias: bool):
        super().__init__(d, n, bias=False)
        if with_bias:
            self.register_buffer("balance_bias", torch.zeros(n))


class Mor(nn.Module):
    def __init__(self, c: RecurConfig, loops: int, names: Dict[str, Tuple[int, ...]]):
        super().__init__()
        router, d = c.recur["router"], c.hidden_size
        if router["kind"] == "token":
            self.token_router = TokenRouter(d, loops, "mor.token_router.balance_bias" in names)
        else:
            hidden = names.get("mor.routers.0.fc1.bias", (max(1, d // 4),))[0]
            self.routers = nn.ModuleList(ScalarRouter(d, router.get("architecture", "linear"), hidden) for _ in range(loops))


@dataclass
class RecurOutput:
    logits: torch.Tensor  # [B, T, V]
    loss: Optional[torch.Tensor] = None  # LM (or distillation) loss + aux_loss
    aux_loss: Optional[torch.Tensor] = None  # the router's auxiliary losses, scaled by their coefficients
    depths: Optional[torch.Tensor] = None  # [B, T] loops each token ran (router models)


_LORA_KEY = re.compile(r"^model\.layers\.(\d+)\.((?:self_attn|mlp)\.\w+)\.lora_([AB])\.loop(\d+)\.weight$")
_NORM_KEY = re.compile(r"^model\.layers\.(\d+)\.(input_layernorm|post_attention_layernorm)\.loop(\d+)\.weight$")


class RecurForCausalLM(_ModelBase):
    """Prologue -> shared block looped N times (with LoRA, per-loop norms, a MoR router) -> epilogue -> LM head."""

    config_class = RecurConfig
    # Coefficients of the router's auxiliary losses (Recur's defaults: MoR's values; z-loss off).
    bce_coef, z_coef, balance_coef = 1e-3, 0.0, 0.1

    def __init__(self, config: RecurConfig, tensor_shapes: Optional[Dict[str, Tuple[int, ...]]] = None):
        super().__init__(config) if _ModelBase is not nn.Module else super().__init__()
        self.config = config
        names = tensor_shapes or {}
        self.model = RecurModel(config)
        self.lm_head = None if config.tie_word_embeddings else nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.steps = execution_steps(config)
        self.structure = loop_structure(self.steps)
        self.router = config.recur.get("router")
        self.mor = Mor(config, len(self.structure[1]), names) if self.router else None
        self._add_adapters(names, float(config.recur.get("loraScale", 1)))
        attach_sharing(self, config, names)  # scaled, hyper or MoS LoRA, MASA atoms: sharing_recur.py
        self.register_buffer("inv_freq", rope_inverse_frequencies(config), persistent=False)
        self.source_dir: Optional[str] = None

    def _add_adapters(self, names: Dict[str, Tuple[int, ...]], scale: float) -> None:
        """Depth-wise LoRA factors and per-loop norms, as the checkpoint holds them."""
        for name, shape in names.items():
            lora, norm = _LORA_KEY.match(name), _NORM_KEY.match(name)
            if lora:
                layer, module, factor, loop = lora.groups()
                linear = self.model.layers[int(layer)].get_submodule(module)
                (linear.lora_A if factor == "A" else linear.lora_B)[f"loop{loop}"] = Weight(*shape)
                linear.lora_multiplier = scale
            elif norm:
                layer, which, loop = norm.groups()
                getattr(self.model.layers[int(layer)], which).add_module(f"loop{loop}", Weight(*shape))

    # ------------------------------------------------------------ loading and saving
    @classmethod
    def from_pretrained(cls, path: str, *args, **kwargs) -> "RecurForCausalLM":
        """A folder with config.json + model.safetensors (Recur's names). Extra arguments (transformers') are ignored."""
        config = RecurConfig.from_json_file(os.path.join(path, CONFIG))
        tensors = read_safetensors(os.path.join(path, WEIGHTS))
        model = cls(config, {k: tuple(v.shape) for k, v in tensors.items()})
        missing, unexpected = model.load_state_dict(tensors, strict=False)
        if missing or unexpected:
            raise ValueError(f"{path}/{WEIGHTS}: missing tensors {missing[:5]}, unexpected {unexpected[:5]}")
        check_mos_indices(model)
        model.source_dir = path
        return model.eval()

    def save_pretrained(self, path: str, *args, **kwargs) -> None:
        """config.json, model.safetensors (Recur's names: the tied embedding once), this file and the tokenizer."""
        os.makedirs(path, exist_ok=True)
        write_safetensors(os.path.join(path, WEIGHTS), dict(self.state_dict()))
        with open(os.path.join(path, CONFIG), "w", encoding="utf-8") as f:
            f.write(self.config.to_json_string())
        here = os.path.dirname(os.path.abspath(__file__))
        for name in MODULE_FILES:
            if os.path.abspath(os.path.join(path, name)) != os.path.join(here, name):
                shutil.copyfile(os.path.join(here, name), os.path.join(path, name))
        for name in COPIED_FILES if self.source_dir else ():
            source = os.path.join(self.source_dir, name)
            if os.path.exists(source) and os.path.abspath(source) != os.path.abspath(os.path.join(path, name)):
                shutil.copyfile(source, os.path.join(path, name))

    # ------------------------------------------------------------ forward
    def forward(self, input_ids, labels=None, targets=None, routing=None, threshold=None,
                teacher_logits=None, distill_alpha=0.5, distill_temperature=1.0, **kwargs) -> RecurOutput:
        """input_ids [B, T] (or [T]) -> RecurOutput.

        labels: Hugging Face style (the loss compares logits[:, :-1] with labels[:, 1:]; -100 is skipped).
        targets: already aligned next tokens [B, T] (Recur's convention: the forward runs on seq[:-1]).
        routing (router models): 'top-k' (training-time expert-choice capacity, the default in train mode),
        'threshold' (decode-time, causal: the default in eval mode; `threshold` overrides every recursion's),
        'none' (every token runs every loop, ungated: Recur's --exit none).
        teacher_logits [B, T, V]: distil, alpha·T²·KL(teacher ‖ student) + (1 − alpha)·CE (Hinton et al. 2015).
        """
        ids = input_ids if input_ids.dim() == 2 else input_ids[None]
        b, t = ids.shape
        rope = self._rope(t, ids.device)
        h = self.model.embed_tokens(ids)  # [B, T, d]
        depths, aux = None, h.new_zeros(())
        mode = routing or ("top-k" if self.training else "threshold")
        if self.router and mode != "none":
            if self.structure is None:
                raise ValueError("a router needs the shared layers looped as one block (cycle or middle-cycle)")
            prologue, loops, epilogue = self.structure
            h = self._run(h, prologue, rope, _causal_keys(t))
            h, depths, aux = self._routed_loops(h, loops, rope, mode, threshold)
            h = self._run(h, epilogue, rope, _causal_keys(t))
        else:
            h = self._run(h, self.steps, rope, _causal_keys(t))
        logits = self.head(h)  # [B, T, V]
        loss = self._loss(logits, labels, targets, teacher_logits, distill_alpha, distill_temperature)
        if loss is not None and self.router and mode != "none":
            loss = loss + aux
        out = logits if input_ids.dim() == 2 else logits[0]
        return RecurOutput(logits=out, loss=loss, aux_loss=aux if self.router else None, depths=depths)

    def _rope(self, t: int, device):
        angles = torch.arange(t, dtype=torch.float64, device=device)[:, None] * self.inv_freq.double()[None]  # [T, hd/2]
        return angles.cos().float()[None, :, None], angles.sin().float()[None, :, None]  # [1, T, 1, hd/2] each

    def exit_logits(self, input_ids) -> List[torch.Tensor]:
        """Logits [B, T, V] when every token leaves after loop d = 1..N: head(epilogue(h after loop d)), Recur's
        exitReadouts (early-exit training, Relaxed Recursive Transformers §3.4); the last is the full-depth forward."""
        if self.structure is None:
            raise ValueError("early exits need the shared layers looped as one block (cycle or middle-cycle)")
        prologue, loops, epilogue = self.structure
        t = input_ids.shape[-1]
        rope = self._rope(t, input_ids.device)
        h = self._run(self.model.embed_tokens(input_ids), prologue, rope, _causal_keys(t))  # [B, T, d]
        exits = []
        for loop in loops:
            h = self._run(h, loop, rope, _causal_keys(t))
            exits.append(self.head(self._run(h, epilogue, rope, _causal_keys(t))))
        return exits

    def exit_loss(self, input_ids, targets, weights=None, teacher_logits=None, distill_alpha=0.5, distill_temperature=1.0):
        """Σ_d ŵ_d·loss(exit d) with the weights normalised to sum 1 (absent: equal), as Recur's --exit-loss;
        loss = CE, or with teacher_logits alpha·T²·KL + (1 − alpha)·CE. Returns (total, [loss of each exit])."""
        exits = self.exit_logits(input_ids)
        raw = [1.0] * len(exits) if weights is None else [float(w) for w in weights]
        if len(raw) != len(exits) or sum(raw) <= 0 or any(not math.isfinite(w) or w < 0 for w in raw):
            raise ValueError(f"exit weights must be {len(exits)} finite values >= 0 with a positive sum, got {weights}")
        losses = [self._loss(logits, None, targets, teacher_logits, distill_alpha, distill_temperature) for logits in exits]
        total = sum(w / sum(raw) * loss for w, loss in zip(raw, losses) if w > 0)
        return total, losses

    def head(self, h):
        """Final norm + LM head (the tied embedding when there is no lm_head)."""
        w = self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return F.linear(self.model.norm(h, 0), w)

    def _run(self, h, steps, rope, keys):
        for unique, loop in steps:
            h = self.model.layers[unique](h, loop, rope, keys)
        return h

    def _loss(self, logits, labels, targets, teacher, alpha, temperature):
        if labels is None and targets is None:
            return None
        if labels is not None:  # Hugging Face: position t predicts labels[t + 1]
            logits, targets = logits[:, :-1], labels[:, 1:]
            teacher = teacher[:, :-1] if teacher is not None else None
        v = logits.shape[-1]
        ce = F.cross_entropy(logits.reshape(-1, v), targets.reshape(-1), ignore_index=-100)
        if teacher is None:
            return ce
        logq = F.log_softmax(logits / temperature, -1)
        logp = F.log_softmax(teacher.detach() / temperature, -1)
        kl = (logp.exp() * (logp - logq)).sum(-1).mean() * temperature ** 2
        return kl if alpha == 1 else alpha * kl + (1 - alpha) * ce

    # ------------------------------------------------------------ Mixture-of-Recursions
    def _routed_loops(self, h, loops, rope, mode, threshold):
        """Loop r runs on the tokens the router keeps among those that ran loop r − 1 (MoR, hierarchical)."""
        b, t, _ = h.shape
        n, router = len(loops), self.router
        active = torch.ones(b, t, dtype=torch.bool, device=h.device)
        depths = torch.zeros(b, t, dtype=torch.long, device=h.device)
        kv = _LoopKv(router.get("kvMode", "recursion-wise"), t)
        h0, aux, token = h, h.new_zeros(()), router["kind"] == "token"
        if token:
            choice, gate, aux = self._token_choice(h, n)
        for r in range(n):
            if token:
                keep = active & (choice > r)
            else:
                logit = self.mor.routers[r](h)  # [B, T]
                keep, term = self._expert_choice(logit, active, r, n, t, mode, threshold)
                aux = aux + term
                gate = router.get("alpha", 0.1) * torch.sigmoid(logit)  # [B, T]
            active = keep
            if not active.any():
                break
            depths = depths + active.long()
            out = self._run(h, loops[r], rope, kv.keys(r, active))
            if not (token and _token_form(router) == "paper"):
                out = h + gate[..., None] * out  # h_sel + g·Block(h_sel): Block keeps its own residuals (MoR eq. 1)
            h = torch.where(active[..., None], out, h)
        if token and _token_form(router) == "paper":
            h = h0 + gate[..., None] * h  # h₀ + g·f^r(h₀): loops ran ungated
        return h, depths, aux

    def _expert_choice(self, logit, candidates, r, n, t, mode, threshold):
        """Which candidates run loop r, and the auxiliary loss of this recursion."""
        if mode == "threshold":
            if r == 0:
                return candidates, logit.new_zeros(())
            cut = threshold if threshold is not None else _expert_threshold(self.router, r)
            return candidates & (logit > math.log(cut / (1 - cut))), logit.new_zeros(())
        if mode != "top-k":
            raise ValueError(f"routing must be 'top-k', 'threshold' or 'none', got {mode!r}")
        # Capacity (N − r)/N of the sequence; ties go to the earlier token (a stable sort).
        k = min(int(candidates[0].sum()), t, max(1, math.floor((n - r) / n * t + 1e-9)))
        scores = logit.detach().masked_fill(~candidates, float("-inf"))
        order = torch.sort(scores, dim=-1, descending=True, stable=True).indices[:, :k]  # [B, k]
        keep = torch.zeros_like(candidates).scatter(1, order, True)
        # "Was selected" BCE over the candidates, so σ(logit) > 0.5 predicts selection at decode time.
        picked = logit[candidates]
        target = keep[candidates].float()
        aux = self.bce_coef * F.binary_cross_entropy_with_logits(picked, target)
        if self.z_coef:
            aux = aux + self.z_coef * picked.pow(2).mean()
        return keep, aux

    def _token_choice(self, h, n):
        """Depth per token from softmax(W·h) (+ balance bias for the choice), gate = that depth's probability."""
        router = self.mor.token_router
        probs = torch.softmax(F.linear(h, router.weight), dim=-1)  # [B, T, N]
        bias = getattr(router, "balance_bias", None)
        use_bias = bias is not None and self.router.get("balance") == "loss-free"
        scores = probs.detach() + (bias if use_bias else 0)
        chosen = scores.argmax(-1)  # first maximum: ties go to the shallower depth
        gate = probs.gather(-1, chosen[..., None]).squeeze(-1)  # [B, T]
        if use_bias:
            aux = probs.new_zeros(())
        else:  # balancing loss coef·N·Σ_i P_i·f_i per sequence (Switch Transformer), mean over sequences
            loads = F.one_hot(chosen, n).float().mean(1)  # [B, N]
            aux = self.balance_coef * n * (probs.mean(1) * loads).sum(-1).mean()
        return chosen + 1, gate, aux

    @torch.no_grad()
    def generate_greedy(self, input_ids, max_new_tokens: int, eos_token_id: Optional[int] = None) -> List[int]:
        """Greedy tokens after a prompt (1-D ids), recomputing the causal forward each step."""
        ids = [int(x) for x in input_ids]
        out = []
        for _ in range(max_new_tokens):
            logits = self(torch.tensor(ids)).logits[-1]
            token = int(logits.argmax())
            out.append(token)
            ids.append(token)
            if token == eos_token_id:
                break
        return out


def _token_form(router) -> str:
    return router.get("tokenForm", "gated-every-loop")  # saved before the field existed: the old form


def _expert_threshold(router, r: int) -> float:
    """σ threshold of recursion r: calibrated thresholds[r], else the router's threshold, else 0.5."""
    thresholds = router.get("thresholds")
    if thresholds is not None and r < len(thresholds):
        return thresholds[r]
    return router.get("threshold", 0.5)


def _causal_keys(t: int):
    """Every earlier token, as a plain decoder's cache holds them: one [1, T, T] mask for every layer of the forward."""
    mask: List[torch.Tensor] = []

    def keys(k, v):
        if not mask:
            mask.append(torch.ones(t, t, dtype=torch.bool, device=k.device).tril()[None])
        return k, v, mask[0]
    return keys


class _LoopKv:
    """What loop r's attention sees of the sequence (Recur's DepthKvMode; MoR §2.3):
    'recursion-wise': the tokens that ran loop r; 'shared': loop 0's keys/values of the same block
    layer (recursive KV sharing); 'copy': each token's keys/values from the last loop it ran."""

    def __init__(self, mode: str, t: int):
        if mode not in ("recursion-wise", "shared", "copy"):
            raise ValueError(f"config.json: recur.router.kvMode {mode!r} is not recursion-wise, shared or copy")
        self.mode, self.t, self.saved = mode, t, {}

    def keys(self, r: int, active: torch.Tensor):
        causal = torch.ones(self.t, self.t, dtype=torch.bool, device=active.device).tril()[None]  # [1, T, T]
        diagonal = torch.eye(self.t, dtype=torch.bool, device=active.device)[None]
        counter = iter(range(1 << 30))

        def keys(k, v):
            j = next(counter)  # block layer index within the loop
            if self.mode == "recursion-wise":
                # A row that does not run the loop still sees itself, so no row is empty (its output is discarded).
                return k, v, causal & (active[:, None, :] | diagonal)
            if self.mode == "shared":
                if r == 0:
                    self.saved[j] = (k, v)
                k0, v0 = self.saved[j]
                return k0, v0, causal.expand(k.shape[0], -1, -1)
            if r > 0:
                last_k, last_v = self.saved[j]
                k = torch.where(active[..., None, None], k, last_k)
                v = torch.where(active[..., None, None], v, last_v)
            self.saved[j] = (k, v)
            return k, v, causal.expand(k.shape[0], -1, -1)

        return keys
