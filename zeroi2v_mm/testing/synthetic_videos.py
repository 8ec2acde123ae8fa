"""Write a small, reproducible synthetic action-recognition dataset.

The dataset is meant for smoke tests and for checking that a video model
really uses temporal order. Its ten classes come in time-reversed pairs::

    move_left  / move_right      move_up / move_down     grow / shrink
    appear     / vanish (fades)  rotate_cw / rotate_ccw

The second class of every pair is rendered as the first class played
backwards, with appearance parameters drawn from the same distribution, so
the *set* of frames of a clip has the same distribution for both classes of a
pair. No single frame and no order-invariant pooling of frames (mean, max,
attention without position) can separate them; only temporal order can.

Layout written under ``--out DIR``::

    DIR/videos/train/<class>_<k>.mp4      F frames of S x S pixels
    DIR/videos/val/<class>_<k>.mp4
    DIR/train_list.txt                    "train/<class>_<k>.mp4 <label>"
    DIR/val_list.txt                      paths relative to DIR/videos
    DIR/classes.txt                       class names, line index == label
    DIR/meta.json                         arguments; marks the run complete
    # only with --images-per-class K > 0:
    DIR/images/train/<what>/<what>_<k>.png     K still images per class
    DIR/images/val/<what>/<what>_<k>.png       max(1, K // 5) per class
    DIR/images/classes.txt                     classes, sorted, index == label

Image classes say what and where: ``<shape>_<row>_<column>``, the object's
shape and the cell of a 3 x 3 grid holding its centre (e.g.
``triangle_top_left``). A model pre-trained on them has to keep the object's
position in its image feature, as large pre-trained image models do, instead
of learning to discard it (a shape-only label rewards position invariance,
which leaves nothing to track from frame to frame).

The annotation lists are MMAction2 ``VideoDataset`` files (use
``data_prefix=dict(video='DIR/videos')``); the image folders are mmpretrain
``CustomDataset`` folders (use ``data_prefix='DIR/images/train'``).

Command line: ``python tools/data/make_synthetic_videos.py --out
data/synthetic`` (a thin CLI over :func:`make_dataset`). From Python::

    from zeroi2v_mm.testing.synthetic_videos import make_dataset
    make_dataset('data/synthetic', images_per_class=120)
"""
from __future__ import annotations
import dataclasses
import functools
import json
import math
import multiprocessing
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

# Each pair is (class rendered forward, class rendered as its reverse).
CLASS_PAIRS: Tuple[Tuple[str, str], ...] = (
    ('move_left', 'move_right'),
    ('move_up', 'move_down'),
    ('grow', 'shrink'),
    ('appear', 'vanish'),
    ('rotate_cw', 'rotate_ccw'),
)
CLASSES: Tuple[str, ...] = tuple(name for pair in CLASS_PAIRS for name in pair)
# Maps every class to the forward class of its pair (itself for forward ones).
FORWARD_CLASS: Dict[str, str] = {
    name: pair[0]
    for pair in CLASS_PAIRS
    for name in pair
}
REVERSED_CLASSES = frozenset(pair[1] for pair in CLASS_PAIRS)

SHAPES: Tuple[str, ...] = ('square', 'circle', 'triangle', 'cross')
GRID_ROWS: Tuple[str, ...] = ('top', 'middle', 'bottom')
GRID_COLUMNS: Tuple[str, ...] = ('left', 'centre', 'right')
# What and where: (shape, row, column) of every still-image class.
IMAGE_CLASS_PARTS: Dict[str, Tuple[str, str, str]] = {
    f'{shape}_{row}_{column}': (shape, row, column)
    for shape in SHAPES
    for row in GRID_ROWS
    for column in GRID_COLUMNS
}
# mmpretrain's CustomDataset numbers class folders in sorted order, so the
# image classes.txt must be sorted too for its line index to equal the label.
IMAGE_CLASSES: Tuple[str, ...] = tuple(sorted(IMAGE_CLASS_PARTS))

# Bump when the rendering changes, so that an old dataset on disk is not
# silently reused as if it had been made by the new code.
FORMAT_VERSION = 2  # 2: what-and-where image classes; brighter, larger objects
VIDEO_FOURCC = 'mp4v'  # MPEG-4 part 2: written by OpenCV's bundled FFmpeg
# and decoded by decord 0.6.0 (H.264 'avc1' has no encoder in the pip wheel).
SUBPIXEL_BITS = 4  # cv2 drawing 'shift': coordinates in 1/16 pixel

# Stream ids keep the random streams of the four splits independent.
_STREAM_IDS = {
    ('videos', 'train'): 0,
    ('videos', 'val'): 1,
    ('images', 'train'): 2,
    ('images', 'val'): 3,
}

DEFAULTS = dict(
    videos_per_class=100,
    val_per_class=20,
    frames=16,
    size=64,
    fps=8.0,
    seed=0,
    images_per_class=0,
)


class OutputDirectoryConflictError(RuntimeError):
    """The output directory holds something this run must not overwrite."""


@dataclasses.dataclass(frozen=True)
class ClipParams:
    """Random parameters of one clip; they do not depend on its direction.

    The motion is described by magnitudes only (how far, how much growth,
    how fast it spins); the class decides what moves and in which direction.
    Lengths are in pixels, angles in degrees.
    """

    num_frames: int
    frame_size: int
    shape: str
    object_rgb: Tuple[int, int, int]
    background_rgb: Tuple[int, int, int]
    radius: float  # circumradius of the shape (geometric mean for grow)
    placement: Tuple[float, float]  # in [0, 1]^2: where in the free room
    travel_fraction: float  # share of the free room crossed (move_*)
    growth_ratio: float  # end radius / start radius (grow)
    start_angle_deg: float
    degrees_per_frame: float  # rotate_*
    fade_window: Tuple[float, float]  # fade starts / ends, as clip fractions
    noise_std: float  # of the Gaussian pixel noise, in 0..255 units
    noise_seed: int


@dataclasses.dataclass(frozen=True)
class ClipTrajectory:
    """Per-frame object state of a clip with F frames.

    Attributes:
        centers: (F, 2) float, (x, y) pixel coordinates of the object centre.
        radii: (F,) float, circumradius in pixels.
        angles_deg: (F,) float, orientation, clockwise on screen.
        alphas: (F,) float in [0, 1], object opacity.
    """

    centers: np.ndarray
    radii: np.ndarray
    angles_deg: np.ndarray
    alphas: np.ndarray

    def reversed_in_time(self) -> 'ClipTrajectory':
        return ClipTrajectory(self.centers[::-1], self.radii[::-1],
                              self.angles_deg[::-1], self.alphas[::-1])


def clip_rng(seed: int, kind: str, split: str, label: int,
             index: int) -> np.random.Generator:
    """Random generator of one sample, independent of every other sample.

    Seeding from (seed, split, label, index) rather than from a running
    counter keeps a sample identical when other counts change, e.g. when
    ``videos_per_class`` grows.
    """
    stream = _STREAM_IDS[(kind, split)]
    return np.random.default_rng(
        np.random.SeedSequence([seed, stream, label, index]))


def _sample_contrasting_colours(
    rng: np.random.Generator
) -> Tuple[Tuple[int, int, int], Tuple[int, int, int]]:
    """Random (object, background) RGB: a bright object of any hue on a dark
    background of any hue, so the object always stands out. (Fully random
    pairs with a minimum distance made the object's edges flip sign from
    clip to clip, which a small ViT trained for minutes learns poorly.)"""
    object_rgb = rng.integers(150, 256, size=3)
    background_rgb = rng.integers(0, 70, size=3)
    return (tuple(int(c)
                  for c in object_rgb), tuple(int(c) for c in background_rgb))


def sample_clip_params(class_name: str, rng: np.random.Generator,
                       num_frames: int, frame_size: int) -> ClipParams:
    """Draw the random appearance and motion magnitudes of one clip.

    Only the pair of ``class_name`` matters, never its direction, so both
    classes of a pair get the same distribution of clips up to time
    reversal.
    """
    family = FORWARD_CLASS[class_name]
    # A rotating circle looks static, which would make rotate_cw/ccw clips
    # unlearnable noise; every other family uses all shapes.
    shapes = [s for s in SHAPES if s != 'circle'] \
        if family == 'rotate_cw' else list(SHAPES)
    shape = shapes[int(rng.integers(len(shapes)))]
    object_rgb, background_rgb = _sample_contrasting_colours(rng)
    return ClipParams(
        num_frames=num_frames,
        frame_size=frame_size,
        shape=shape,
        object_rgb=object_rgb,
        background_rgb=background_rgb,
        radius=float(rng.uniform(0.15, 0.22) * frame_size),
        placement=(float(rng.uniform()), float(rng.uniform())),
        travel_fraction=float(rng.uniform(0.4, 1.0)),
        growth_ratio=float(rng.uniform(2.0, 3.0)),
        start_angle_deg=float(rng.uniform(0.0, 360.0)),
        # Below 45 deg between sampled frames (frame_interval <= 2) so that
        # the 90-degree symmetric square and cross cannot alias into the
        # opposite direction.
        degrees_per_frame=float(rng.uniform(6.0, 18.0)),
        fade_window=(float(rng.uniform(0.0,
                                       0.3)), float(rng.uniform(0.7, 1.0))),
        noise_std=float(rng.uniform(0.0, 6.0)),
        noise_seed=int(rng.integers(2**63)),
    )


def _free_range(frame_size: int, extent: float) -> Tuple[float, float]:
    """Interval of centre coordinates keeping an object of this circumradius
    (plus one pixel of anti-aliasing) inside the frame."""
    low = extent + 1.0
    high = frame_size - 1.0 - extent
    if high < low:
        raise ValueError(f'frame size {frame_size} too small for the object')
    return low, high


def clip_trajectory(class_name: str, params: ClipParams) -> ClipTrajectory:
    """Per-frame object state of ``class_name`` under ``params``.

    The reversed class of a pair gets exactly the forward class's trajectory
    backwards in time.
    """
    if class_name not in FORWARD_CLASS:
        raise ValueError(f'unknown class {class_name!r}; known: {CLASSES}')
    family = FORWARD_CLASS[class_name]
    num_frames, size = params.num_frames, params.frame_size
    time = np.arange(num_frames, dtype=np.float64)
    progress = time / max(num_frames - 1, 1)  # 0 at the first frame, 1 last

    radii = np.full(num_frames, params.radius)
    angles = np.full(num_frames, params.start_angle_deg)
    alphas = np.ones(num_frames)
    u, v = params.placement

    if family in ('move_left', 'move_up'):
        low, high = _free_range(size, params.radius)
        travel = params.travel_fraction * (high - low)
        # Forward motion goes towards smaller coordinates (left / up), so it
        # starts at least `travel` away from the low edge.
        start = low + travel + u * (high - low - travel)
        along = start - travel * progress
        across = np.full(num_frames, low + v * (high - low))
        if family == 'move_left':
            centers = np.stack([along, across], axis=1)
        else:
            centers = np.stack([across, along], axis=1)
    else:
        if family == 'grow':
            half_log_ratio = 0.5 * math.log(params.growth_ratio)
            radii = params.radius * np.exp(half_log_ratio *
                                           (2.0 * progress - 1.0))
        elif family == 'appear':
            fade_start, fade_end = params.fade_window
            alphas = np.clip((progress - fade_start) / (fade_end - fade_start),
                             0.0, 1.0)
        elif family == 'rotate_cw':
            angles = params.start_angle_deg + params.degrees_per_frame * time
        low, high = _free_range(size, float(radii.max()))
        centers = np.tile([low + u * (high - low), low + v * (high - low)],
                          (num_frames, 1))

    trajectory = ClipTrajectory(centers, radii, angles, alphas)
    if class_name in REVERSED_CLASSES:
        trajectory = trajectory.reversed_in_time()
    return trajectory


def _shape_polygon(shape: str, center: np.ndarray, radius: float,
                   angle_deg: float) -> np.ndarray:
    """(V, 2) float vertices of ``shape``, all within ``radius`` of centre."""
    angle = math.radians(angle_deg)
    if shape == 'square':
        offsets = angle + math.pi / 4 + np.arange(4) * math.pi / 2
        unit = np.stack([np.cos(offsets), np.sin(offsets)], axis=1)
    elif shape == 'triangle':
        offsets = angle - math.pi / 2 + np.arange(3) * 2 * math.pi / 3
        unit = np.stack([np.cos(offsets), np.sin(offsets)], axis=1)
    elif shape == 'cross':
        arm = 0.3  # half-width of an arm, relative to the arm's length
        tip = math.sqrt(1.0 - arm * arm)  # corners lie on the unit circle
        quarter = np.array([[arm, tip], [arm, arm], [tip, arm]])
        # `quarter` runs from the +y arm to the +x arm, i.e. towards lower
        # angles, so the following quarters are turned by -90 deg each.
        pieces = []
        for k in range(4):
            c, s = math.cos(-k * math.pi / 2), math.sin(-k * math.pi / 2)
            pieces.append(quarter @ np.array([[c, s], [-s, c]]))
        unit = np.concatenate(pieces)
        c, s = math.cos(angle), math.sin(angle)
        unit = unit @ np.array([[c, s], [-s, c]])
    else:
        raise ValueError(f'no polygon for shape {shape!r}')
    return center + radius * unit


def _shape_mask(shape: str, frame_size: int, center: np.ndarray, radius: float,
                angle_deg: float) -> np.ndarray:
    """(S, S) float32 anti-aliased coverage in [0, 1] of the object."""
    mask = np.zeros((frame_size, frame_size), dtype=np.uint8)
    scale = 1 << SUBPIXEL_BITS
    if shape == 'circle':
        cv2.circle(mask, tuple(int(round(c * scale)) for c in center),
                   int(round(radius * scale)), 255, -1, cv2.LINE_AA,
                   SUBPIXEL_BITS)
    else:
        polygon = _shape_polygon(shape, center, radius, angle_deg)
        cv2.fillPoly(mask, [np.round(polygon * scale).astype(np.int32)], 255,
                     cv2.LINE_AA, SUBPIXEL_BITS)
    return mask.astype(np.float32) / 255.0


def _render_frame(params: ClipParams, center: np.ndarray, radius: float,
                  angle_deg: float, alpha: float,
                  noise: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 RGB frame; ``noise`` is (S, S, 3) float32."""
    coverage = alpha * _shape_mask(params.shape, params.frame_size, center,
                                   radius, angle_deg)[..., None]
    background = np.asarray(params.background_rgb, dtype=np.float32)
    foreground = np.asarray(params.object_rgb, dtype=np.float32)
    frame = background + coverage * (foreground - background) + noise
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def _noise(params: ClipParams, num_frames: int) -> np.ndarray:
    """(num_frames, S, S, 3) float32 Gaussian pixel noise."""
    rng = np.random.default_rng(params.noise_seed)
    shape = (num_frames, params.frame_size, params.frame_size, 3)
    return rng.standard_normal(
        shape, dtype=np.float32) * np.float32(params.noise_std)


def render_clip(class_name: str, params: ClipParams) -> np.ndarray:
    """Render one clip before encoding.

    Returns:
        (F, S, S, 3) uint8 RGB frames, F = ``params.num_frames`` and
        S = ``params.frame_size``. For the second class B of a pair,
        ``render_clip(B, p)`` equals ``render_clip(A, p)[::-1]`` exactly:
        the noise is tied to the trajectory, so it is reversed along with it.
    """
    trajectory = clip_trajectory(class_name, params)
    noise = _noise(params, params.num_frames)
    if class_name in REVERSED_CLASSES:
        noise = noise[::-1]
    return np.stack([
        _render_frame(params, trajectory.centers[t], trajectory.radii[t],
                      trajectory.angles_deg[t], trajectory.alphas[t], noise[t])
        for t in range(params.num_frames)
    ])


def grid_cell(center: np.ndarray, size: int) -> Tuple[str, str]:
    """(row, column) names of the 3 x 3 grid cell holding ``center`` (x, y)."""
    x, y = (
        min(len(GRID_COLUMNS) - 1, max(0, int(c * 3 // size))) for c in center)
    return GRID_ROWS[y], GRID_COLUMNS[x]


def render_still_image(image_class: str, rng: np.random.Generator, frames: int,
                       size: int) -> np.ndarray:
    """One (S, S, 3) uint8 RGB image of ``image_class`` for pretraining.

    The image is a frame of a random clip drawn exactly like the videos'
    clips, so appearance statistics match; clips are drawn until one has a
    frame with the object centred in the class's grid cell. Frames where the
    object is mostly transparent are never chosen because the shape would not
    be visible.
    """
    if image_class not in IMAGE_CLASS_PARTS:
        raise ValueError(f'unknown image class {image_class!r}; known: '
                         f'{IMAGE_CLASSES}')
    shape, row, column = IMAGE_CLASS_PARTS[image_class]
    usable_classes = [
        c for c in CLASSES
        if not (shape == 'circle' and FORWARD_CLASS[c] == 'rotate_cw')
    ]
    # Every cell is reachable from every clip family (placements are
    # uniform), so this ends after ~9 draws on average.
    for _ in range(10000):
        class_name = usable_classes[int(rng.integers(len(usable_classes)))]
        params = dataclasses.replace(
            sample_clip_params(class_name, rng, frames, size), shape=shape)
        trajectory = clip_trajectory(class_name, params)
        candidates = [
            t for t in np.flatnonzero(trajectory.alphas >= 0.5)
            if grid_cell(trajectory.centers[t], size) == (row, column)
        ]
        if candidates:
            break
    else:  # pragma: no cover - would need a frame size with unreachable cells
        raise RuntimeError(f'no clip puts a {shape} in the {row} {column} '
                           f'cell of a {size} px frame')
    t = int(candidates[rng.integers(len(candidates))])
    return _render_frame(params, trajectory.centers[t], trajectory.radii[t],
                         trajectory.angles_deg[t], trajectory.alphas[t],
                         _noise(params, 1)[0])


def _load_decord():
    try:
        import decord
    except ImportError:  # verification is a safety net, not a requirement
        return None
    return decord


def write_video(path: Path,
                frames_rgb: np.ndarray,
                fps: float,
                decord_module=None) -> None:
    """Encode (F, S, S, 3) uint8 RGB frames as mp4 and, when decord is
    given, check that it decodes back to F frames of S x S."""
    num_frames, height, width, _ = frames_rgb.shape
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*VIDEO_FOURCC), float(fps),
        (width, height))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot open a {VIDEO_FOURCC!r} writer '
                           f'for {path}')
    try:
        for frame in frames_rgb:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))  # RGB->BGR
    finally:
        writer.release()
    if decord_module is None:
        return
    # decord's batch decoding (what MMAction2's DecordDecode uses) fails on
    # some frame sizes (e.g. 48 and 72 px with this codec) although the file
    # is valid, so the check reads the whole clip the same way.
    try:
        reader = decord_module.VideoReader(str(path))
        decoded_shape = reader.get_batch(list(range(len(reader)))).shape
        del reader
    except Exception as error:  # decord raises its own DECORDError
        raise RuntimeError(
            f'decord cannot read back {path} ({error}); try another --size '
            f'such as 32, 56, 64, 112 or 224') from error
    if tuple(decoded_shape) != (num_frames, height, width, 3):
        raise RuntimeError(
            f'decord reads {path} as {tuple(decoded_shape)} instead of '
            f'{(num_frames, height, width, 3)}')


def _check_codec_round_trip(arguments: Dict, decord_module) -> None:
    """Raise ValueError before anything is written when decord cannot read
    back a clip of the requested frame count and size."""
    if decord_module is None:
        return
    params = sample_clip_params(
        CLASSES[0], clip_rng(arguments['seed'], 'videos', 'train', 0, 0),
        arguments['frames'], arguments['size'])
    with tempfile.TemporaryDirectory() as probe_dir:
        try:
            write_video(
                Path(probe_dir) / 'probe.mp4', render_clip(CLASSES[0], params),
                arguments['fps'], decord_module)
        except RuntimeError as error:
            raise ValueError(
                f'size={arguments["size"]}, frames={arguments["frames"]}: '
                f'{error}') from error


def _validate_arguments(arguments: Dict) -> None:
    if arguments['videos_per_class'] < 1:
        raise ValueError('videos_per_class must be at least 1')
    if arguments['val_per_class'] < 0:
        raise ValueError('val_per_class must not be negative')
    if arguments['frames'] < 2:
        raise ValueError('frames must be at least 2 to show any motion')
    # The MPEG-4 encoder needs even sizes and decord misreads tiny ones.
    if arguments['size'] < 32 or arguments['size'] % 2:
        raise ValueError('size must be even and at least 32')
    if not arguments['fps'] > 0:
        raise ValueError('fps must be positive')
    if arguments['seed'] < 0:
        raise ValueError('seed must not be negative')
    if arguments['images_per_class'] < 0:
        raise ValueError('images_per_class must not be negative')


def _existing_dataset_is_complete(out_dir: Path, arguments: Dict) -> bool:
    """True when ``out_dir`` already holds this exact dataset.

    Raises OutputDirectoryConflictError when writing there could overwrite
    something else; the script never deletes anything.
    """
    meta_path = out_dir / 'meta.json'
    if meta_path.is_file():
        with open(meta_path) as meta_file:
            recorded = json.load(meta_file).get('arguments', {})
        differences = [
            f'{name}={recorded.get(name)!r} there but {arguments.get(name)!r} '
            'requested' for name in sorted(set(recorded) | set(arguments))
            if recorded.get(name) != arguments.get(name)
        ]
        if differences:
            raise OutputDirectoryConflictError(
                f'{out_dir} already holds a synthetic dataset made with '
                f'different arguments ({"; ".join(differences)}). Refusing '
                f'to overwrite it: pick another --out, or delete {out_dir} '
                'yourself.')
        with open(meta_path) as meta_file:
            return bool(json.load(meta_file).get('complete', False))
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise OutputDirectoryConflictError(
            f'{out_dir} exists and is not an empty directory, but has no '
            'meta.json, so this script did not write it. Refusing to write '
            'into it: pick another --out.')
    return False


def _write_meta(out_dir: Path,
                arguments: Dict,
                complete: bool,
                counts: Optional[Dict] = None) -> None:
    meta = dict(
        generator='zeroi2v_mm.testing.synthetic_videos',
        complete=complete,
        arguments=arguments,
        classes=list(CLASSES),
        counts=counts or {},
    )
    tmp_path = out_dir / 'meta.json.tmp'
    with open(tmp_path, 'w') as meta_file:
        json.dump(meta, meta_file, indent=2, sort_keys=True)
        meta_file.write('\n')
    # Replace atomically: a half-written meta.json would look like a
    # foreign directory to the next run.
    tmp_path.replace(out_dir / 'meta.json')


def val_images_per_class(images_per_class: int) -> int:
    """Validation images per image class for ``images_per_class`` training
    ones."""
    return max(1, images_per_class // 5) if images_per_class > 0 else 0


def _write_sample(out_dir: str, seed: int, frames: int, size: int, fps: float,
                  check_decode: bool,
                  job: Tuple[str, Tuple[str, int, str, int]]) -> Optional[str]:
    """Render and write one sample of :func:`make_dataset` (a module-level
    function so that worker processes can run it). Returns the annotation
    line of a video, None for a still image."""
    kind, (split, label, name, k) = job
    root = Path(out_dir)
    if kind == 'video':
        rng = clip_rng(seed, 'videos', split, label, k)
        params = sample_clip_params(name, rng, frames, size)
        relative_path = f'{split}/{name}_{k:04d}.mp4'
        write_video(root / 'videos' / relative_path, render_clip(name, params),
                    fps,
                    _load_decord() if check_decode else None)
        return f'{relative_path} {label}\n'
    rng = clip_rng(seed, 'images', split, label, k)
    image = render_still_image(name, rng, frames, size)
    image_path = root / 'images' / split / name / f'{name}_{k:05d}.png'
    if not cv2.imwrite(str(image_path), image[..., ::-1]):
        raise RuntimeError(f'OpenCV could not write {image_path}')
    return None


def make_dataset(out_dir,
                 videos_per_class: int = DEFAULTS['videos_per_class'],
                 val_per_class: int = DEFAULTS['val_per_class'],
                 frames: int = DEFAULTS['frames'],
                 size: int = DEFAULTS['size'],
                 fps: float = DEFAULTS['fps'],
                 seed: int = DEFAULTS['seed'],
                 images_per_class: int = DEFAULTS['images_per_class'],
                 progress: bool = True,
                 workers: int = 1) -> Path:
    """Write the synthetic dataset (layout in the module docstring).

    Returns the output directory. Does nothing when it already holds a
    complete dataset made with the same arguments; raises
    OutputDirectoryConflictError when it holds anything else.

    ``workers`` > 1 renders and encodes the samples in that many processes.
    Every sample draws from its own random stream (:func:`clip_rng`), so the
    dataset is the same for any number of workers. Defaults to 1.
    """
    out_dir = Path(out_dir)
    arguments = dict(
        format_version=FORMAT_VERSION,
        videos_per_class=int(videos_per_class),
        val_per_class=int(val_per_class),
        frames=int(frames),
        size=int(size),
        fps=float(fps),
        seed=int(seed),
        images_per_class=int(images_per_class),
    )
    _validate_arguments(arguments)
    if workers < 1:
        raise ValueError(f'workers must be at least 1, not {workers}')
    if _existing_dataset_is_complete(out_dir, arguments):
        print(f'{out_dir} already holds this synthetic dataset '
              '(same arguments in meta.json); nothing to do.')
        return out_dir
    decord_module = _load_decord()
    if decord_module is None:
        print(
            'decord is not installed: videos are not read back to check '
            'them',
            file=sys.stderr)
    # An unreadable size would otherwise surface after out_dir and its
    # meta.json exist, leaving a directory the user has to delete by hand.
    _check_codec_round_trip(arguments, decord_module)

    out_dir.mkdir(parents=True, exist_ok=True)
    # Written first so that an interrupted run is recognised as ours: a
    # rerun with the same arguments redoes it, other arguments are refused.
    _write_meta(out_dir, arguments, complete=False)

    video_jobs: List[Tuple[str, int, str, int]] = []
    for split, count in (('train', videos_per_class), ('val', val_per_class)):
        (out_dir / 'videos' / split).mkdir(parents=True, exist_ok=True)
        for label, class_name in enumerate(CLASSES):
            video_jobs.extend(
                (split, label, class_name, k) for k in range(count))
    image_jobs: List[Tuple[str, int, str, int]] = []
    if images_per_class > 0:
        for split, count in (('train', images_per_class),
                             ('val', val_images_per_class(images_per_class))):
            for label, shape in enumerate(IMAGE_CLASSES):
                (out_dir / 'images' / split / shape).mkdir(
                    parents=True, exist_ok=True)
                image_jobs.extend(
                    (split, label, shape, k) for k in range(count))

    jobs = [('video', job) for job in video_jobs] + \
        [('image', job) for job in image_jobs]
    write = functools.partial(_write_sample, str(out_dir), seed, frames, size,
                              fps, decord_module is not None)
    pool = None
    if workers > 1 and len(jobs) > 1:
        # fork: the workers inherit the imported modules (no re-import of
        # this package per worker); results come back in job order.
        pool = multiprocessing.get_context('fork').Pool(workers)
        results = pool.imap(write, jobs, chunksize=8)
    else:
        results = map(write, jobs)
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(jobs))
    annotation_lines: Dict[str, List[str]] = {'train': [], 'val': []}
    try:
        for (kind, (split, _, _, _)), line in zip(jobs, results):
            if kind == 'video':
                annotation_lines[split].append(line)
            if bar is not None:
                bar.update()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    if bar is not None:
        print()

    for split, lines in annotation_lines.items():
        with open(out_dir / f'{split}_list.txt', 'w') as list_file:
            list_file.writelines(lines)
    with open(out_dir / 'classes.txt', 'w') as classes_file:
        classes_file.writelines(f'{name}\n' for name in CLASSES)
    if images_per_class > 0:
        with open(out_dir / 'images' / 'classes.txt', 'w') as classes_file:
            classes_file.writelines(f'{name}\n' for name in IMAGE_CLASSES)

    counts = dict(
        train_videos=len(annotation_lines['train']),
        val_videos=len(annotation_lines['val']),
        train_images=images_per_class * len(IMAGE_CLASSES),
        val_images=val_images_per_class(images_per_class) * len(IMAGE_CLASSES),
    )
    _write_meta(out_dir, arguments, complete=True, counts=counts)
    return out_dir
