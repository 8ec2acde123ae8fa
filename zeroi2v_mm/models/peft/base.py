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

``docs/en/advanced_guides/adding_a_method.md`` walks through adding one.
"""
import inspect
from typing import Dict, Iterator, Mapping, Optional, Tuple

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
    #: Whether the method only adapts linears (:meth:`wrap_linear` /
    #: :meth:`adapt_linears`), so it works on any backbone that names its
    #: linears by role (``ZeroI2VSwin`` too). False for Block variants and
    #: STDHA-specific methods, which need ``ZeroI2VViT``'s blocks.
    linears_only: bool = True

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

    def adapt_linears(self, linears: Mapping[str, Tuple[nn.Module,
                                                        str]]) -> None:
        """Adapt the built linears of one block in place, for a backbone
        that attaches the method after building (``ZeroI2VSwin``).

        Args:
            linears: role (as in :meth:`wrap_linear`) -> ``(parent module,
                attribute name)`` of that linear, in the block's order.
        """
        for role, (parent, name) in linears.items():
            setattr(parent, name,
                    self.wrap_linear(getattr(parent, name), role))

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


def method_config(backbone: Mapping) -> Optional[dict]:
    """The one adaptation method of a backbone config, as ``dict(type=...)``.

    ``adapters=dict(...)`` is shorthand for ``dict(type='LinearAdapters',
    ...)``; ``peft=dict(type=...)`` names any registered method; None when
    the backbone has neither. Every check of "is it a known method" lives
    here.

    Raises:
        ValueError: both given; ``peft`` not ``dict(type=...)`` of a
            registered method; ``adapters`` with keys LinearAdapters does not
            take (naming them).
    """
    adapters, peft = backbone.get('adapters'), backbone.get('peft')
    if adapters is not None:
        if peft is not None:
            raise ValueError(f'peft type {dict(peft).get("type")!r} replaces '
                             'the linear adapters: set adapters=None')
        expected = set(
            inspect.signature(PEFT_METHODS.get(
                'LinearAdapters').__init__).parameters) - {'self'}
        unknown = set(adapters) - expected
        if unknown:
            raise ValueError(f'unknown adapters keys {sorted(unknown)}; '
                             f'expected {sorted(expected)}')
        return dict(adapters, type='LinearAdapters')
    if peft is None:
        return None
    if not isinstance(peft, Mapping) or peft.get('type') not in PEFT_METHODS:
        raise ValueError(f'peft={peft!r}: expected dict(type=...) with type '
                         f'in {sorted(PEFT_METHODS.module_dict)}')
    return dict(peft)


def build_method(cfg: Optional[Mapping]) -> Optional[PEFTMethod]:
    """The method of a :func:`method_config` dict (None: no method); its
    ``__init__`` checks the values."""
    if cfg is None:
        return None
    args = dict(cfg)
    # Looked up, not Registry.build: building under the runner's default
    # scope ('mmaction') would look for this registry in MMAction2's tree.
    return PEFT_METHODS.get(args.pop('type'))(**args)


def _backbone_of(cfg: Mapping) -> Mapping:
    model = cfg.get('model', cfg)
    return model.get('backbone', model) or {}


def is_mergeable(cfg: Mapping) -> bool:
    """Whether the model of ``cfg`` carries updates that fold into its
    frozen linears, so that merging gives the plain model of the config.

    Args:
        cfg: a whole config (with ``model``), a ``model`` dict (with
            ``backbone``) or a backbone dict.

    Returns:
        True for linear adapters (``backbone.adapters``) or a mergeable
        ``backbone.peft`` method (LoRA, TemporalHeads, SSF, ...); False when
        the model has neither, or a method that stays at inference (AIM,
        ST-Adapter, GELU adapters).

    Raises:
        ValueError: as :func:`method_config`.
    """
    method = method_config(_backbone_of(cfg))
    return method is not None and bool(
        PEFT_METHODS.get(method['type']).mergeable)


def plain_settings(cfg: Mapping) -> Dict[str, None]:
    """The backbone settings that make the model of ``cfg`` its plain
    (merged) model: ``adapters=None``, and ``peft=None`` where the method
    folds into the linears; a method that stays at inference keeps its
    ``peft``. What the merged config, its ``--cfg-options`` hint and the
    plain model of a merge all apply.

    Args:
        cfg: as :func:`is_mergeable`.
    """
    backbone = _backbone_of(cfg)
    settings = {'adapters': None}
    if backbone.get('peft') and is_mergeable(backbone):
        settings['peft'] = None
    return settings


def check_mergeable(cfg: Mapping, where: str) -> None:
    """Refuse to merge a model whose method stays at inference: the one
    message of the merge hook, the merge tool and folding.

    Raises:
        ValueError: naming ``where``, the method and those that merge.
    """
    method = method_config(_backbone_of(cfg))
    if method is not None and not is_mergeable(cfg):
        mergeable = sorted(name
                           for name, m in PEFT_METHODS.module_dict.items()
                           if m.mergeable)
        raise ValueError(
            f'{where}: model.backbone.peft={method["type"]!r} does not merge '
            f'(only {", ".join(mergeable)} do): its modules stay at '
            'inference, so there is no plain model to merge into. Test its '
            'checkpoints with the config as it is, and drop '
            'MergeAdaptersHook from it (custom_hooks=[])')
