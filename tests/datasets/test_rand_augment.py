"""VideoRandAugment: the released ZeroI2V RandAugment (pytorchvideo's
semantics) on torch ops. Statistics of the draws, one draw per clip, seeded
determinism, and the op arguments of the released setting (m7 n4)."""
import numpy as np
import pytest
import torch

from mmaction.registry import TRANSFORMS
from zeroi2v_mm.datasets.rand_augment import OPS, apply_op, op_argument

DRAWS = 4000


@pytest.fixture
def m7n4():
    return TRANSFORMS.build(
        dict(type='VideoRandAugment', magnitude=7, num_layers=4))


def clip(frames=4, height=24, width=32, seed=0, same=False):
    rng = np.random.RandomState(seed)
    first = rng.randint(0, 256, (height, width, 3), dtype=np.uint8)
    return [
        first.copy() if same else rng.randint(
            0, 256, (height, width, 3), dtype=np.uint8) for _ in range(frames)
    ]


def draws(transform, n=DRAWS, seed=0):
    np.random.seed(seed)
    return [transform.sample() for _ in range(n)]


def test_op_set_is_the_released_one():
    assert len(OPS) == 14
    assert 'Invert' in OPS and 'Identity' not in OPS


def test_ops_per_clip_are_binomial_n4_p_half(m7n4):
    counts = np.array([len(d) for d in draws(m7n4)])
    assert counts.min() >= 0 and counts.max() <= 4
    # Binomial(4, 0.5): mean 2, variance 1; P(0) = P(4) = 1/16.
    assert abs(counts.mean() - 2.0) < 0.1
    assert abs(counts.var() - 1.0) < 0.1
    assert abs((counts == 0).mean() - 1 / 16) < 0.02
    assert abs((counts == 4).mean() - 1 / 16) < 0.02


def test_ops_are_distinct_within_a_clip_and_uniform_over_the_set(m7n4):
    seen = {name: 0 for name in OPS}
    for draw in draws(m7n4):
        names = [step['op'] for step in draw]
        assert len(names) == len(set(names))  # without replacement
        for name in names:
            seen[name] += 1
    expected = DRAWS * 4 * 0.5 / len(OPS)  # ~571 per op
    for name, count in seen.items():
        assert abs(count - expected) < 0.2 * expected, (name, count)


def test_magnitude_is_normal_7_half_clipped_to_0_10(m7n4):
    levels = np.array([
        step['level'] for draw in draws(m7n4) for step in draw
        if step['level'] is not None
    ])
    assert len(levels) > 2000
    assert abs(levels.mean() - 7.0) < 0.05
    assert abs(levels.std() - 0.5) < 0.05
    assert levels.min() >= 0 and levels.max() <= 10
    # clipped at 10: a mean of 9.8 puts ~1/3 of the draws exactly at 10
    high = TRANSFORMS.build(dict(type='VideoRandAugment', magnitude=9.8))
    high_levels = np.array([
        step['level'] for draw in draws(high, 1000) for step in draw
        if step['level'] is not None
    ])
    assert high_levels.max() == 10.0
    assert 0.2 < (high_levels == 10.0).mean() < 0.5


def test_signed_ops_take_both_signs(m7n4):
    rotations = [
        step['arg'] for draw in draws(m7n4) for step in draw
        if step['op'] == 'Rotate'
    ]
    assert 0.4 < np.mean(np.array(rotations) > 0) < 0.6
    assert all(15 < abs(angle) < 27 for angle in rotations)  # 30 * [5, 9]/10


def test_released_arguments_at_magnitude_7():
    assert op_argument('AdjustBrightness', 7, 1) == pytest.approx(1.63)
    assert op_argument('AdjustContrast', 7, -1) == pytest.approx(0.37)
    assert op_argument('Rotate', 7, -1) == pytest.approx(-21.0)
    assert op_argument('Posterize', 7) == 2
    assert op_argument('Solarize', 7) == 76
    assert op_argument('ShearX', 7, 1) == pytest.approx(0.21)
    assert op_argument('TranslateY', 7, 1) == pytest.approx(0.315)
    assert op_argument('Invert', 7) is None


def test_op_semantics_on_a_clip():
    video = torch.from_numpy(np.stack(clip(2, 8, 8))).permute(0, 3, 1, 2)
    fill = (0.5, 0.5, 0.5)
    assert torch.equal(apply_op(video, 'Invert', None, fill), 255 - video)
    assert torch.equal(
        apply_op(video, 'Posterize', 2, fill), video & 0b11000000)
    bright = apply_op(video, 'AdjustBrightness', 1.5, fill)
    assert torch.equal(bright,
                       (video.float() * 1.5).clamp(0, 255).to(torch.uint8))
    # TranslateX by a quarter of the width: pixel x reads x + 2; the two
    # columns that come from outside are filled with 0.5 -> 0.
    moved = apply_op(video, 'TranslateX', 0.25, fill)
    assert torch.equal(moved[..., :6], video[..., 2:])
    assert torch.all(moved[..., 6:] == 0)
    moved_y = apply_op(video, 'TranslateY', -0.25, fill)
    assert torch.equal(moved_y[..., 2:, :], video[..., :6, :])


def test_one_draw_for_all_frames(m7n4):
    """A clip of identical frames stays a clip of identical frames, whatever
    the draw: the ops and magnitudes are drawn once per clip."""
    np.random.seed(1)
    changed = 0
    for trial in range(40):
        imgs = clip(frames=6, seed=trial, same=True)
        out = m7n4(dict(imgs=[img.copy() for img in imgs]))['imgs']
        assert len(out) == 6
        assert all(o.shape == imgs[0].shape and o.dtype == np.uint8
                   for o in out)
        for frame in out[1:]:
            np.testing.assert_array_equal(frame, out[0])
        changed += not np.array_equal(out[0], imgs[0])
    assert changed > 25  # it does augment (P(no op fires) = 1/16)


def test_deterministic_under_a_seed(m7n4):
    imgs = clip(frames=3, seed=5)

    def run(seed):
        np.random.seed(seed)
        return [
            m7n4(dict(imgs=[img.copy() for img in imgs]))['imgs']
            for _ in range(5)
        ]

    first, again, other = run(3), run(3), run(4)
    for a, b in zip(first, again):
        for fa, fb in zip(a, b):
            np.testing.assert_array_equal(fa, fb)
    assert any(not np.array_equal(fa, fo) for a, o in zip(first, other)
               for fa, fo in zip(a, o))


def test_bad_input_and_options_are_named():
    with pytest.raises(ValueError, match='magnitude=11'):
        TRANSFORMS.build(dict(type='VideoRandAugment', magnitude=11))
    with pytest.raises(ValueError, match='num_layers=15'):
        TRANSFORMS.build(dict(type='VideoRandAugment', num_layers=15))
    transform = TRANSFORMS.build(dict(type='VideoRandAugment'))
    frames = [np.zeros((4, 4, 3), np.float32)]
    with pytest.raises(ValueError, match='frame 0 is float32.*a.mp4'):
        transform(dict(imgs=frames, filename='a.mp4'))
