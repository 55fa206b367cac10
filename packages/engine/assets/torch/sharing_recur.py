"""Recur's parameter-sharing forms in PyTorch, for modeling_recur.py (`recur export --torch`).

Each form is stored as Recur stores it (the same tensor names, the same config.json sections), so a folder
trained here loads back in Recur unchanged; each computes what Recur's TypeScript computes, in the same order:

- scaled LoRA (packages/lora/src/scaledLora.ts): one template A, B per block position and module, loop k's
  delta s_k·B·A;
- hyper LoRA (packages/lora/src/hyperLora.ts): A = G_A·e, B = G_B·e from e = [loop embedding ; position embedding];
- MoS LoRA (packages/lora/src/mos): each step's A and B gathered from shared shard pools by a fixed index table;
- MASA (packages/sharing/src): a projection's per-layer matrix W_l = Σ_s c[l, s]·D_s from shared atoms.

The generated factors of a (position, loop) step are made when the step runs: once per loop per forward for all
tokens together, never per token; the stored tensors are the parameters, so training reaches them.
"""
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

Factors = Tuple[torch.Tensor, torch.Tensor]  # A [r, in], B [out, r]
FactorSource = Callable[[int], Optional[Factors]]  # loop -> that loop's factors, or None where it has none
Shapes = Dict[str, Tuple[int, ...]]
# `config` below is modeling_recur.RecurConfig (Any: that module imports this one)

ADAPTED_MODULES = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                   "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


class Weight(nn.Module):
    """One parameter under the name `weight`: gives per-loop tensors their checkpoint keys (`...loop2.weight`)."""

    def __init__(self, *shape: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(*shape))


def submodule(root: nn.Module, path: str) -> nn.Module:
    """root's module at a dotted path, made of empty containers where missing (so a key like
    `mos.self_attn.q_proj.lora_A.pool` is the state_dict name of a parameter `pool` under them)."""
    for part in path.split("."):
        if not hasattr(root, part):
            root.add_module(part, nn.Module())
        root = getattr(root, part)
    return root


def attach_sharing(lm: nn.Module, config: Any, shapes: Shapes) -> None:
    """Builds the shared form config.json names (recur.loraKind scaled | hyper | mos; a `masa` section) with
    parameters of the checkpoint's shapes, and points the decoder's linears at it."""
    kind = config.recur.get("loraKind", "depthwise")
    scale = float(config.recur.get("loraScale", 1))
    if kind == "scaled":
        attach_scaled(lm, shapes, scale)
    elif kind == "hyper":
        attach_hyper(lm, config, shapes, scale)
    elif kind == "mos":
        attach_mos(lm, config, shapes, scale)
    elif kind != "depthwise":
        raise ValueError(f"config.json: recur.loraKind {kind!r} is not depthwise, mos, hyper or scaled")
    if config.raw.get("masa"):
        attach_masa(lm, config, shapes)


def _linear(lm: nn.Module, unique: int, module: str) -> nn.Module:
    return lm.model.layers[unique].get_submodule(module)


def _set_factors(linear: nn.Module, source: FactorSource, scale: float) -> None:
    linear.factors = source  # a plain attribute: the parameters live with the shared form, not in the linear
    linear.lora_multiplier = scale


# ---------------------------------------------------------------- scaled LoRA
# Polyhistor's layer-wise scaling kernels ("Polyhistor: Parameter-Efficient Multi-Task Adaptation for Dense
# Vision Tasks", Liu et al., NeurIPS 2022, arXiv 2210.03265): one template kernel shared across layers, each
# layer scaling it. Here one template LoRA per block position and module, shared by every loop.
def attach_scaled(lm: nn.Module, shapes: Shapes, scale: float) -> None:
    """`model.layers.{u}.{module}.lora_{A,B}.template.weight` [r, in] / [out, r] and `.lora_scale.weight` [loops]."""
    for unique, layer in enumerate(lm.model.layers):
        for module in ADAPTED_MODULES:
            prefix = f"model.layers.{unique}.{module}"
            keys = [f"{prefix}.lora_A.template.weight", f"{prefix}.lora_B.template.weight", f"{prefix}.lora_scale.weight"]
            if not all(k in shapes for k in keys):
                continue
            linear = layer.get_submodule(module)
            linear.lora_A["template"] = Weight(*shapes[keys[0]])
            linear.lora_B["template"] = Weight(*shapes[keys[1]])
            linear.lora_scale = Weight(*shapes[keys[2]])
            _set_factors(linear, _scaled_source(linear), scale)


def _scaled_source(linear: nn.Module) -> FactorSource:
    def factors(loop: int) -> Optional[Factors]:
        scales = linear.lora_scale.weight  # [loops]
        if loop >= scales.shape[0]:
            return None
        return linear.lora_A["template"].weight, linear.lora_B["template"].weight * scales[loop:loop + 1]
    return factors


# ---------------------------------------------------------------- hypernetwork LoRA
# Polyhistor's decomposed hypernetworks (Liu et al., NeurIPS 2022, arXiv 2210.03265): a pair of small generators
# makes each adapter from an embedding, here e = [loop embedding ; block-position embedding] [2H].
def attach_hyper(lm: nn.Module, config: Any, shapes: Shapes, scale: float) -> None:
    """`model.lora_hyper.loop_embedding.weight` [loops, H], `model.layers.{u}.lora_hyper.position_embedding.weight` [H],
    `model.lora_hyper.{module}.{A,B}_generator.weight` [r, in, 2H] / [out, r, 2H]."""
    width = (config.recur.get("hyper") or {}).get("hyperDim")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"config.json: recur.loraKind 'hyper' needs recur.hyper.hyperDim >= 1, got {width!r}")
    hyper = submodule(lm.model, "lora_hyper")
    hyper.add_module("loop_embedding", Weight(*shapes["model.lora_hyper.loop_embedding.weight"]))
    for module in ADAPTED_MODULES:
        for factor in ("A", "B"):
            key = f"model.lora_hyper.{module}.{factor}_generator.weight"
            if key in shapes:
                submodule(hyper, module).add_module(f"{factor}_generator", Weight(*shapes[key]))
    for unique, layer in enumerate(lm.model.layers):
        key = f"model.layers.{unique}.lora_hyper.position_embedding.weight"
        if key not in shapes:
            continue
        submodule(layer, "lora_hyper").add_module("position_embedding", Weight(*shapes[key]))
        for module in ADAPTED_MODULES:
            if hasattr(submodule(hyper, module), "A_generator"):
                _set_factors(layer.get_submodule(module), _hyper_source(hyper, layer, module), scale)


def _hyper_source(hyper: nn.Module, layer: nn.Module, module: str) -> FactorSource:
    def factors(loop: int) -> Optional[Factors]:
        loops = hyper.loop_embedding.weight  # [loops, H]
        if loop >= loops.shape[0]:
            return None
        e = torch.cat([loops[loop], layer.lora_hyper.position_embedding.weight])  # [2H]
        generators = hyper.get_submodule(module)
        a = generators.A_generator.weight @ e  # [r, in, 2H]·[2H] -> [r, in]
        b = generators.B_generator.weight @ e  # [out, r, 2H]·[2H] -> [out, r]
        return a, b
    return factors


# ---------------------------------------------------------------- MoS LoRA
# "MoS: Unleashing Parameter Efficiency of Low-Rank Adaptation with Mixture of Shards" (Wang et al. 2024,
# arXiv 2410.00938): every step's rank vectors are concatenations of shards from pools shared by all steps;
# the routing is a seeded index table drawn once (recur.mos holds the settings and the steps' row order).
def attach_mos(lm: nn.Module, config: Any, shapes: Shapes, scale: float) -> None:
    """`mos.{module}.lora_{A,B}.pool` [rows, in/K] / [rows, out/K] and `mos.{module}.index_{A,B}` [steps, rank·K]
    (F32 integers: a buffer, saved back as it came, never trained)."""
    section = config.recur.get("mos")
    if not section or "steps" not in section or "shards" not in section:
        raise ValueError("config.json: recur.loraKind 'mos' needs a recur.mos section with steps and shards")
    rows = {(int(u), int(loop)): s for s, (u, loop) in enumerate(section["steps"])}
    for module in ADAPTED_MODULES:
        prefix = f"mos.{module}"
        if f"{prefix}.lora_A.pool" not in shapes:
            continue
        holder = submodule(lm, prefix)
        for factor in ("A", "B"):
            submodule(holder, f"lora_{factor}").pool = nn.Parameter(torch.zeros(*shapes[f"{prefix}.lora_{factor}.pool"]))
            index = shapes[f"{prefix}.index_{factor}"]
            if index[0] != len(rows):
                raise ValueError(f"{prefix}.index_{factor} has {index[0]} rows; recur.mos.steps lists {len(rows)} steps")
            holder.register_buffer(f"index_{factor}", torch.zeros(*index))
        rank = shapes[f"{prefix}.index_A"][1] // int(section["shards"])
        for (unique, loop), row in rows.items():
            linear = _linear(lm, unique, module)
            steps = getattr(linear, "mos_rows", {})
            steps[loop] = row
            linear.mos_rows = steps
            _set_factors(linear, _mos_source(holder, linear, rank), scale)


def _mos_source(holder: nn.Module, linear: nn.Module, rank: int) -> FactorSource:
    def factors(loop: int) -> Optional[Factors]:
        row = linear.mos_rows.get(loop)
        if row is None:
            return None
        # slot i·K + k holds the pool row of rank vector i's k-th shard: gathered in order, cut into rank vectors
        a = holder.lora_A.pool[holder.index_A[row].long()].reshape(rank, -1)  # [rank, in]
        b = holder.lora_B.pool[holder.index_B[row].long()].reshape(rank, -1).t()  # [out, rank]
        return a, b
    return factors


def check_mos_indices(lm: nn.Module) -> None:
    """After loading: every index-table entry is an integer row of its pool (ValueError naming the tensor)."""
    for module in ADAPTED_MODULES:
        try:
            holder = lm.get_submodule(f"mos.{module}")
        except AttributeError:
            continue
        for factor in ("A", "B"):
            table, rows = getattr(holder, f"index_{factor}"), holder.get_submodule(f"lora_{factor}").pool.shape[0]
            bad = (table != table.round()) | (table < 0) | (table >= rows)
            if bool(bad.any()):
                raise ValueError(f"mos.{module}.index_{factor} holds {table[bad][0].item()}, not a row of its {rows}-row pool")


# ---------------------------------------------------------------- MASA
# "Share Your Attention: Transformer Weight Sharing via Matrix-based Dictionary Learning" (2025): each shared
# projection type's per-layer matrix is a combination of S atoms, W_l = Σ_s c[l, s]·D_s.
def attach_masa(lm: nn.Module, config: Any, shapes: Shapes) -> None:
    """`masa.{module}.atoms` [S, out, in] and `masa.{module}.coefficients` [L, S] replace the layers' `{module}.weight`."""
    modules: List[str] = config.raw["masa"].get("modules") or []
    for module in modules:
        prefix = f"masa.{module}"
        if f"{prefix}.atoms" not in shapes or f"{prefix}.coefficients" not in shapes:
            raise ValueError(f"config.json's masa section shares {module}, but the checkpoint has no {prefix}.atoms/.coefficients")
        holder = submodule(lm, prefix)
        holder.atoms = nn.Parameter(torch.zeros(*shapes[f"{prefix}.atoms"]))
        holder.coefficients = nn.Parameter(torch.zeros(*shapes[f"{prefix}.coefficients"]))
        layers = shapes[f"{prefix}.coefficients"][0]
        if layers != len(lm.model.layers):
            raise ValueError(f"{prefix}.coefficients has {layers} rows for a model of {len(lm.model.layers)} layers")
        for layer in range(layers):
            linear = _linear(lm, layer, module)
            del linear.weight  # not stored: the atoms make it
            linear.derive = _masa_source(holder, layer)


def _masa_source(holder: nn.Module, layer: int) -> Callable[[], torch.Tensor]:
    def weight() -> torch.Tensor:
        return torch.tensordot(holder.coefficients[layer], holder.atoms, dims=1)  # [S]·[S, out, in] -> [out, in]
    return weight
