"""RandAugment for video clips, with the semantics of the released ZeroI2V
training (pytorchvideo's ``RandAugment(magnitude=7, num_layers=4)`` through
MMAction2's ``PytorchVideoWrapper``), written on torch / torchvision ops so
that pytorchvideo is not needed.

What one call does to a clip (one draw for the whole clip):

* ``num_layers`` different ops are drawn uniformly, without replacement, from
  14: AdjustBrightness, AdjustContrast, AdjustSaturation, AdjustSharpness,
  AutoContrast, Equalize, Invert, Rotate, Posterize, Solarize, ShearX,
  ShearY, TranslateX, TranslateY (no Identity);
* each drawn op fires with probability ``prob`` (0.5); a firing op draws its
  magnitude from N(magnitude, magnitude_std) clipped to [0, 10], and the
  signed ops (enhancements, rotate, shear, translate) a random sign;
* the ops that fire are applied in the drawn order to every frame alike.

Magnitude -> op argument (level ``m`` in [0, 10]):

=================================  ====================================
AdjustBrightness/Contrast/
Saturation/Sharpness               factor ``1 +- 0.9 m / 10``
Rotate                             ``+- 30 m / 10`` degrees (bilinear)
Posterize                          ``4 - int(4 m / 10)`` bits
Solarize                           threshold ``int((1 - m / 10) * 255)``
ShearX / ShearY                    ``+- 0.3 m / 10``
TranslateX / TranslateY            ``+- 0.45 m / 10`` of the width/height
AutoContrast, Equalize, Invert     no argument (AutoContrast and Equalize
                                   use each frame's own histogram)
=================================  ====================================

Geometric ops fill uncovered pixels with ``fill`` in pixel units (0.5 in the
released setting, which rounds to black on uint8 frames).

Where this sits in an MMAction2 pipeline: after decoding and ``Resize``,
``results['imgs']`` is a list of T arrays ``(H, W, 3)`` uint8.
"""
from typing import Dict, List, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from torch import Tensor
from torchvision.transforms import InterpolationMode

from mmaction.registry import TRANSFORMS

MAX_LEVEL = 10.0

# op name -> (kind, argument at level 10); the argument is linear in level.
OPS = {
    'AdjustBrightness': ('enhance', 0.9),
    'AdjustContrast': ('enhance', 0.9),
    'AdjustSaturation': ('enhance', 0.9),
    'AdjustSharpness': ('enhance', 0.9),
    'AutoContrast': ('plain', None),
    'Equalize': ('plain', None),
    'Invert': ('plain', None),
    'Rotate': ('signed', 30.0),
    'Posterize': ('posterize', 4),
    'Solarize': ('solarize', 1.0),
    'ShearX': ('signed', 0.3),
    'ShearY': ('signed', 0.3),
    'TranslateX': ('signed', 0.45),
    'TranslateY': ('signed', 0.45),
}


def op_argument(name: str, level: float, sign: int = 1):
    """The argument op ``name`` gets at magnitude ``level`` (see the module
    docstring); ``sign`` (+1 / -1) applies to the signed ops only."""
    kind, top = OPS[name]
    step = level / MAX_LEVEL
    if kind == 'plain':
        return None
    if kind == 'enhance':
        return 1.0 + sign * step * top
    if kind == 'signed':
        return sign * step * top
    if kind == 'posterize':
        return int(top - int(step * top))
    return int((top - step * top) * 255)  # solarize threshold on uint8


def _affine(video: Tensor, matrix: Sequence[float],
            fill: Sequence[float]) -> Tensor:
    """Resample every frame: output pixel (x, y) reads the input at
    ``(a x + b y + c, d x + e y + f)``, coordinates in pixels from the image
    centre; bilinear, ``fill`` where the source lies outside.

    Args:
        video: ``(T, C, H, W)`` uint8.
        matrix: ``(a, b, c, d, e, f)``.
        fill: C values in pixel units.

    Returns:
        ``(T, C, H, W)`` uint8.
    """
    frames, channels, height, width = video.shape
    a, b, c, d, e, f = matrix
    ys = torch.arange(height, dtype=torch.float32) - height / 2 + 0.5
    xs = torch.arange(width, dtype=torch.float32) - width / 2 + 0.5
    y, x = torch.meshgrid(ys, xs, indexing='ij')
    # grid_sample with align_corners=False: -1 and 1 are the outer pixel
    # edges, i.e. +-W/2 and +-H/2 from the centre.
    grid = torch.stack([(a * x + b * y + c) / (width / 2),
                        (d * x + e * y + f) / (height / 2)],
                       dim=-1)
    grid = grid.expand(frames, height, width, 2)
    image = video.float()
    inside = torch.ones(frames, 1, height, width)
    sampled = F.grid_sample(
        torch.cat([image, inside], dim=1),
        grid,
        mode='bilinear',
        padding_mode='zeros',
        align_corners=False)
    image, inside = sampled[:, :channels], sampled[:, channels:]
    fill_value = torch.tensor(fill, dtype=torch.float32).view(1, -1, 1, 1)
    image = image * inside + (1 - inside) * fill_value
    return image.round().clamp(0, 255).to(torch.uint8)


def apply_op(video: Tensor, name: str, arg, fill: Sequence[float]) -> Tensor:
    """Apply one op with its argument to a ``(T, C, H, W)`` uint8 clip."""
    if name == 'AdjustBrightness':
        return TF.adjust_brightness(video, arg)
    if name == 'AdjustContrast':
        return TF.adjust_contrast(video, arg)
    if name == 'AdjustSaturation':
        return TF.adjust_saturation(video, arg)
    if name == 'AdjustSharpness':
        return TF.adjust_sharpness(video, arg)
    if name == 'AutoContrast':
        return TF.autocontrast(video)
    if name == 'Equalize':
        return TF.equalize(video)
    if name == 'Invert':
        return TF.invert(video)
    if name == 'Rotate':
        return TF.rotate(
            video,
            arg,
            interpolation=InterpolationMode.BILINEAR,
            fill=list(fill))
    if name == 'Posterize':
        return video if arg >= 8 else TF.posterize(video, arg)
    if name == 'Solarize':
        return TF.solarize(video, arg)
    height, width = video.shape[-2:]
    if name == 'ShearX':
        return _affine(video, (1, arg, height * arg / 2, 0, 1, 0), fill)
    if name == 'ShearY':
        return _affine(video, (1, 0, 0, arg, 1, width * arg / 2), fill)
    if name == 'TranslateX':
        return _affine(video, (1, 0, arg * width, 0, 1, 0), fill)
    if name == 'TranslateY':
        return _affine(video, (1, 0, 0, 0, 1, arg * height), fill)
    raise KeyError(f'unknown RandAugment op {name!r}; ops: {list(OPS)}')


@TRANSFORMS.register_module()
class VideoRandAugment(BaseTransform):
    """RandAugment for a clip: one random draw applied to all its frames.

    The semantics of pytorchvideo's ``RandAugment`` as the released ZeroI2V
    configs use it (``PytorchVideoWrapper(op='RandAugment', magnitude=7,
    num_layers=4)``); see the module docstring for the ops and arguments.
    Random numbers come from NumPy's global generator, which MMEngine seeds
    per worker like every MMAction2 transform.

    Required keys: ``imgs`` (list of ``(H, W, 3)`` uint8 arrays).
    Modified keys: ``imgs``.

    Args:
        magnitude (float): Mean magnitude on the 0..10 scale. Default 7.
        num_layers (int): Ops drawn per clip (each fires with ``prob``).
            Default 4.
        prob (float): Probability that a drawn op is applied. Default 0.5.
        magnitude_std (float): Std of the Gaussian magnitude draw; 0 = always
            ``magnitude``. Default 0.5.
        fill (float | sequence): Fill of geometric ops, pixel units.
            Default 0.5 (as released).
    """

    def __init__(self,
                 magnitude: float = 7,
                 num_layers: int = 4,
                 prob: float = 0.5,
                 magnitude_std: float = 0.5,
                 fill: Union[float, Sequence[float]] = 0.5):
        if not 0 <= magnitude <= MAX_LEVEL:
            raise ValueError(f'VideoRandAugment magnitude={magnitude} is not '
                             f'in [0, {MAX_LEVEL:g}]')
        if not isinstance(num_layers, int) or not 1 <= num_layers <= len(OPS):
            raise ValueError(f'VideoRandAugment num_layers={num_layers!r} '
                             f'must be an integer in [1, {len(OPS)}]')
        if not 0 <= prob <= 1:
            raise ValueError(f'VideoRandAugment prob={prob} is not in [0, 1]')
        if magnitude_std < 0:
            raise ValueError(
                f'VideoRandAugment magnitude_std={magnitude_std} is negative')
        self.magnitude = magnitude
        self.num_layers = num_layers
        self.prob = prob
        self.magnitude_std = magnitude_std
        self.fill = (
            tuple(float(v) for v in fill) if isinstance(fill,
                                                        (list, tuple)) else
            (float(fill), ) * 3)

    @cache_randomness
    def sample(self) -> List[Dict]:
        """One draw for one clip: the ops that fire, in order.

        Returns:
            list of ``dict(op=name, level=magnitude or None, arg=argument)``;
            ``level``/``arg`` are None for ops without an argument.
        """
        names = list(OPS)
        chosen = np.random.choice(len(names), self.num_layers, replace=False)
        draw = []
        for index in chosen:
            if np.random.rand() >= self.prob:
                continue
            name = names[index]
            if OPS[name][0] == 'plain':
                draw.append(dict(op=name, level=None, arg=None))
                continue
            level = float(
                np.clip(
                    np.random.normal(self.magnitude, self.magnitude_std), 0,
                    MAX_LEVEL)) if self.magnitude_std > 0 else float(
                        self.magnitude)
            sign = 1
            if OPS[name][0] in ('enhance', 'signed'):
                sign = 1 if np.random.rand() >= 0.5 else -1
            draw.append(
                dict(op=name, level=level, arg=op_argument(name, level, sign)))
        return draw

    def apply(self, video: Tensor, draw: List[Dict]) -> Tensor:
        """Apply a draw from :meth:`sample` to a ``(T, C, H, W)`` uint8
        clip."""
        for step in draw:
            video = apply_op(video, step['op'], step['arg'], self.fill)
        return video

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        if not imgs:
            raise ValueError('VideoRandAugment got a clip with no frames')
        for index, img in enumerate(imgs):
            if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
                raise ValueError(
                    'VideoRandAugment expects imgs as (H, W, 3) uint8 frames '
                    f'(put it before any normalisation); frame {index} is '
                    f'{img.dtype} {img.shape}' +
                    (f' of {results["filename"]}' if 'filename' in
                     results else ''))
        video = torch.from_numpy(np.ascontiguousarray(np.stack(imgs)))
        video = video.permute(0, 3, 1, 2).contiguous()  # (T, 3, H, W)
        video = self.apply(video, self.sample())
        results['imgs'] = list(video.permute(0, 2, 3, 1).contiguous().numpy())
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(magnitude={self.magnitude}, '
                f'num_layers={self.num_layers}, prob={self.prob}, '
                f'magnitude_std={self.magnitude_std}, fill={self.fill})')
