"""Settings of the frame-halving layer tests (tests/models/compressors/):
sizes, tokens, the three layers, InTI's context flags and a random float64
InTI.

Tiny sizes: C=64, grid 4x4, T=8, batch 2. Tokens are (B*T, 1+h*w, C) with rows
``b*T + t`` and the CLS token at index 0.
"""
import torch

from zeroi2v_mm.models.compressors.inti import ConvPooling, InTI, LinearPooling

C, GRID, T, B = 64, (4, 4), 8, 2
N1 = 1 + GRID[0] * GRID[1]


def tokens(seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B * T, N1, C, generator=gen)


def pair(x: torch.Tensor):
    """(B*T, N+1, C) -> even frames, odd frames, each (B*T/2, N+1, C)."""
    pairs = x.reshape(B * T // 2, 2, N1, C)
    return pairs[:, 0], pairs[:, 1]


ALL = (InTI, LinearPooling, ConvPooling)

# The float64 reference's sizes (test_inti_reference.py)
RC, RGRID, RT, RB = 8, (2, 3), 4, 2  # non-square grid, batch 2
FLAGS = [
    dict(use_cube=c, use_frame=f, use_global=g) for c in (False, True)
    for f in (False, True) for g in (False, True)
]


def flag_id(flags):
    return '-'.join(k[4:] for k, v in flags.items() if v) or 'token_only'


def random_inti(frames=RT, dims=RC, grid=RGRID, seed=0, **flags) -> InTI:
    """An InTI in float64 with every parameter random (no zero start)."""
    torch.manual_seed(seed)
    layer = InTI(dims, frames, grid, **flags).double()
    with torch.no_grad():
        for param in layer.parameters():
            param.normal_(std=0.5)
    return layer
