"""One interface for the ways of adapting a frozen image ViT to video.

A *method* (ZeroI2V's linear adapters, LoRA, temporal-heads tuning, AIM,
ST-Adapter, GELU adapters, ...) is a small class registered in
:data:`PEFT_METHODS` and built from the backbone's config
(``peft=dict(type=...)``; ``adapters=dict(...)`` builds ``LinearAdapters``).
It says three things, each in one place:

* **how it attaches**: :meth:`PEFTMethod.wrap_linear` wraps a frozen
  ``nn.Linear`` as the block makes it (the linear adapters), and
  :meth:`PEFTMethod.adapt_block` changes a built block in place (LoRA,
  temporal heads) or returns a Block variant with the method's modules in
  its forward (AIM, ST-Adapter, GELU adapters: :class:`AdapterBlock`);
* **which parameters train**: :meth:`PEFTMethod.trainable_parameters`, read
  from the modules (the updates of every :class:`~..layers.linear_adapter.
  AdaptedLinear`, the ``peft`` modules of a Block variant), never from
  parameter names;
* **whether it merges**: :attr:`PEFTMethod.mergeable`: after training its
  updates fold into the frozen linears and the model is the plain model of
  the config (``zeroi2v_mm.reparam.merge_adapters``).

``docs/adding_a_method.md`` walks through adding one.
"""
from typing import Iterator, Mapping, Optional, Tuple

import torch.nn as nn
from mmengine.registry import Registry

from ..layers.linear_adapter import AdaptedLinear

#: The methods a ``ZeroI2VViT(peft=dict(type=...))`` can use.
PEFT_METHODS = Registry('peft method', locations=['zeroi2v_mm.models.peft'])


class PEFTMethod:
    """Base class of the adaptation methods: the defaults do nothing.

    Subclasses take their settings as keyword arguments (the config dict
    without ``type``) and check them in ``__init__``, so a bad value is an
    error when the backbone is built.
    """

    #: Whether the method's updates fold into the frozen linears.
    mergeable: bool = False

    def wrap_linear(self, linear: nn.Linear, role: str) -> nn.Module:
        """Called by a block as it makes each frozen linear, before anything
        else is made (so seeded runs draw random numbers in a fixed order).

        Args:
            linear: the frozen layer.
            role: where it sits: ``'attn.in_proj'`` (packed Q, K, V),
                ``'attn.out_proj'``, ``'mlp.c_fc'`` or ``'mlp.c_proj'``.

        Returns:
            ``linear`` itself or a module wrapping it that keeps its
            ``weight`` / ``bias`` under the same names.
        """
        return linear

    def adapt_block(self, block: nn.Module, embed_dims: int, num_frames: int,
                    grid_size: Tuple[int, int]) -> nn.Module:
        """Called once every block is built: change ``block`` in place and
        return it, or return a Block variant that takes over its parts.

        Args:
            block: a built transformer block (``ln_1``, ``attn``, ``ln_2``,
                ``mlp``, ``drop_path``).
            embed_dims: width C.
            num_frames: frames the block sees (after any compression).
            grid_size: patch grid ``(h, w)``.
        """
        return block

    def trainable_parameters(self, block: nn.Module) -> Iterator[nn.Parameter]:
        """The parameters of ``block`` that train when the image model is
        frozen: the updates of its adapted linears and the method modules of
        a Block variant."""
        for module in block.modules():
            if isinstance(module, AdaptedLinear):
                yield from module.update_parameters()
        if isinstance(block, AdapterBlock):
            yield from block.peft.parameters()


class AdapterBlock(nn.Module):
    """Base of the Block variants (timm style): a transformer block whose
    forward also runs a method's modules, kept under ``peft`` (so
    checkpoints name them ``...resblocks.N.peft.*``).

    It takes over the parts of the plain block it is made from (``ln_1``,
    ``attn``, ``ln_2``, ``mlp``, ``drop_path``): same modules, same
    parameter names, pretrained weights load unchanged. Subclasses define
    ``forward``: ``(B*T, L, C) -> (B*T, L, C)``, rows (batch, time)-major.
    """

    def __init__(self, block: nn.Module, peft: nn.Module):
        super().__init__()
        self.ln_1 = block.ln_1
        self.attn = block.attn
        self.ln_2 = block.ln_2
        self.mlp = block.mlp
        self.drop_path = block.drop_path
        self.peft = peft


def build_method(cfg: Optional[Mapping]) -> Optional[PEFTMethod]:
    """The method of a ``peft`` config dict (None: no method).

    Raises:
        ValueError: ``cfg`` is not ``dict(type=...)`` with a registered
            type, naming the known ones.
    """
    if cfg is None:
        return None
    if not isinstance(cfg, Mapping) or cfg.get('type') not in PEFT_METHODS:
        raise ValueError(f'peft={cfg!r}: expected dict(type=...) with type '
                         f'in {sorted(PEFT_METHODS.module_dict)}')
    args = dict(cfg)
    # Looked up, not Registry.build: building under the runner's default
    # scope ('mmaction') would look for this registry in MMAction2's tree.
    return PEFT_METHODS.get(args.pop('type'))(**args)


def is_mergeable(cfg: Mapping) -> bool:
    """Whether the model of ``cfg`` carries updates that fold into its
    frozen linears, so that merging gives the plain model of the config.

    Args:
        cfg: a whole config (with ``model``), a ``model`` dict (with
            ``backbone``) or a backbone dict.

    Returns:
        True for linear adapters (``backbone.adapters``) or a mergeable
        ``backbone.peft`` method (LoRA, TemporalHeads, ...); False when the
        model has neither, or a method that stays at inference (AIM,
        ST-Adapter, GELU adapters).

    Raises:
        ValueError: ``backbone.peft`` names no registered method.
    """
    model = cfg.get('model', cfg)
    backbone = model.get('backbone', model) or {}
    if backbone.get('adapters') is not None:
        return True
    peft = backbone.get('peft')
    if peft is None:
        return False
    if not isinstance(peft, Mapping) or peft.get('type') not in PEFT_METHODS:
        raise ValueError(f'backbone peft={peft!r}: expected dict(type=...) '
                         f'with type in {sorted(PEFT_METHODS.module_dict)}')
    return bool(PEFT_METHODS.get(peft['type']).mergeable)
