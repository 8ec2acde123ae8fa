"""Write a tiny synthetic dataset in AVA's format, for end-to-end tests of
spatio-temporal action detection (train, merge, evaluate) on a CPU.

Every video shows a static textured background and a few coloured squares
("actors"), one per horizontal band so they never overlap. In every second
(centred on a keyframe) each actor does one action, drawn anew every second:

====  ============  ==========================================  ==========
id    name          motion in that second                       evaluated
====  ============  ==========================================  ==========
1     move right    2 pixels per frame (at 64 px) to the right  yes
2     move left     2 pixels per frame to the left              yes
3     bounce        one period of a vertical sine               yes
4     stand still   no motion                                   no
====  ============  ==========================================  ==========

Neither a keyframe, nor the actor, nor the video tells the action; only the
motion in the second around the keyframe does (right and left are the same
frames in opposite order, so it takes temporal order, not just change). A
clip of ``fps`` consecutive frames centred on the keyframe covers exactly
that second.

Like AVA, where the model predicts 80 classes and the label map (the "top 60"
of the ActivityNet 2019 challenge) lists those evaluated, the label map here
lists classes 1-3 only; class 4 is trained and ignored by AVAMetric.

Layout, as MMAction2's ``AVADataset`` and ``AVAMetric`` read it (and as
MMAction2's tools/data/ava/README.md lays out the real AVA)::

    OUT/rawframes/<video_id>/img_00001.jpg ...        F = fps x seconds frames
    OUT/annotations/ava_{train,val}_v2.2.csv          video_id, timestamp,
        x1, y1, x2, y2 (relative to the frame), action id, person id
    OUT/annotations/ava_{train,val}_excluded_timestamps_v2.2.csv
        video_id, timestamp (one excluded keyframe per split)
    OUT/annotations/ava_dense_proposals_{train,val}.FAIR.recall_93.9.pkl
        {'<video_id>,<timestamp:04d>': float array (N, 5): x1 y1 x2 y2 score}
    OUT/annotations/ava_action_list_v2.2_for_activitynet_2019.pbtxt
    OUT/meta.json                                     arguments used

Timestamps are seconds counted as in AVA (``timestamp_start=900``): frame
``(t - 900) * fps + 1`` is the keyframe of timestamp t. Use the dataset with
``AVADataset(fps=FPS, timestamp_start=900, timestamp_end=900 + SECONDS)``
(configs/demo/zeroi2v_ava_synthetic.py does).

Proposals are the ground-truth boxes, jittered by about 1% of the frame, with
detector scores in [0.92, 0.99], plus distractor boxes on the background
(score 0.95: negatives in training, false positives at test) and low-score
boxes that ``AVADataset(person_det_score_thr=0.9)`` drops.

Command line: ``python tools/data/make_synthetic_ava.py --out
data/synthetic_ava`` (a thin CLI over :func:`make_dataset`).
"""
from __future__ import annotations
import json
import pickle
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

ACTIONS: Dict[int, str] = {
    1: 'move right',
    2: 'move left',
    3: 'bounce',
    4: 'stand still',
}
EVALUATED_ACTIONS: Tuple[int, ...] = (1, 2, 3)
TIMESTAMP_START = 900  # AVA's first second; frame 1 is its first frame

LABEL_FILE = 'ava_action_list_v2.2_for_activitynet_2019.pbtxt'


def ann_name(split: str) -> str:
    return f'ava_{split}_v2.2.csv'


def exclude_name(split: str) -> str:
    return f'ava_{split}_excluded_timestamps_v2.2.csv'


def proposal_name(split: str) -> str:
    return f'ava_dense_proposals_{split}.FAIR.recall_93.9.pkl'


DEFAULTS = dict(
    train_videos=64, val_videos=8, actors=2, size=64, fps=8, seconds=6, seed=0)


def keyframe_timestamps(seconds: int) -> List[int]:
    """Annotated seconds: all but the first and the last, so that clips of
    up to ``fps`` frames each side stay inside the video."""
    return list(range(TIMESTAMP_START + 1, TIMESTAMP_START + seconds))


def keyframe_index(timestamp: int, fps: int) -> int:
    """0-based frame of a timestamp (the file is img_{index + 1:05d}.jpg)."""
    return (timestamp - TIMESTAMP_START) * fps


def segment_frames(segment: int, fps: int, frames: int) -> range:
    """Frames of the one-second segment centred on keyframe ``segment``
    (frame ``segment * fps``): ``[segment * fps - fps // 2, + fps)``,
    clipped to the video."""
    start = segment * fps - fps // 2
    return range(max(start, 0), min(start + fps, frames))


def actor_track(band: Tuple[float,
                            float], box: int, frames: int, fps: int, size: int,
                rng: np.random.Generator) -> Tuple[np.ndarray, List[int]]:
    """An actor's top-left corners ``(frames, 2)`` (x, y) and its action in
    each one-second segment (index k: the segment of keyframe k).

    The action changes every second, half-way between keyframes (AVA's
    labels change between keyframes too), so neither the actor nor the
    video tells the label: only the motion around the keyframe does. Moves
    are only chosen where the frame leaves room for them; a bounce is one
    period of a sine, so the actor is back on its line when it ends.
    """
    top, bottom = band
    free_x = size - box
    speed = size / 32  # pixels per frame: 2 at 64 px
    centre_y = (top + bottom - box) / 2
    amplitude = min(0.45 * (bottom - top - box), 0.25 * box + 2)
    x = rng.uniform(0, free_x)
    track = np.zeros((frames, 2))
    actions = []
    for segment in range(frames // fps + 1):
        span = segment_frames(segment, fps, frames)
        travel = speed * len(span)
        feasible = [3, 4] + ([1] if x + travel <= free_x else
                             []) + ([2] if x - travel >= 0 else [])
        action = int(rng.choice(sorted(feasible)))
        actions.append(action)
        for step, frame in enumerate(span):
            if action == 1:
                x += speed
            elif action == 2:
                x -= speed
            y = centre_y
            if action == 3:
                # One period per second: back on its line when it ends.
                y += amplitude * np.sin(2 * np.pi * step / len(span))
            track[frame] = (x, y)
    return track, actions


def render_video(tracks: Sequence[np.ndarray], colours: Sequence[np.ndarray],
                 box: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``(frames, size, size, 3)`` uint8 BGR frames."""
    coarse = rng.uniform(40, 200, size=(4, 4, 3)).astype(np.float32)
    background = cv2.resize(
        coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    background += rng.normal(0, 6, size=background.shape).astype(np.float32)
    frames = np.repeat(background[None], len(tracks[0]), axis=0)
    for track, colour in zip(tracks, colours):
        for index, (x, y) in enumerate(track):
            x0, y0 = int(round(x)), int(round(y))
            frames[index, y0:y0 + box, x0:x0 + box] = colour
    return np.clip(frames, 0, 255).astype(np.uint8)


def relative_box(x: float, y: float, box: int, size: int) -> np.ndarray:
    """(x1, y1, x2, y2) of the drawn box, relative to the frame, 3
    decimals as in AVA's CSVs."""
    x0, y0 = int(round(x)), int(round(y))
    return np.round(
        np.array([x0, y0, x0 + box, y0 + box], dtype=np.float64) / size, 3)


def make_split(out_dir: Path, split: str, num_videos: int, actors: int,
               size: int, fps: int, seconds: int,
               rng: np.random.Generator) -> Dict[str, int]:
    frames = fps * seconds
    box = max(4, int(round(size * 0.19)))
    band_height = size / actors
    timestamps = keyframe_timestamps(seconds)
    rows: List[str] = []
    proposals: Dict[str, np.ndarray] = {}
    video_ids = []
    for video in range(num_videos):
        video_id = f'synth_{split}_{video:02d}'
        video_ids.append(video_id)
        tracks, colours, actions = [], [], []
        for actor in range(actors):
            band = (actor * band_height, (actor + 1) * band_height)
            track, segment_actions = actor_track(band, box, frames, fps, size,
                                                 rng)
            tracks.append(track)
            actions.append(segment_actions)
            colours.append(rng.uniform(0, 255, size=3).astype(np.float32))
        frame_dir = out_dir / 'rawframes' / video_id
        frame_dir.mkdir(parents=True, exist_ok=True)
        for index, frame in enumerate(
                render_video(tracks, colours, box, size, rng)):
            cv2.imwrite(
                str(frame_dir / f'img_{index + 1:05d}.jpg'), frame,
                [cv2.IMWRITE_JPEG_QUALITY, 95])
        for timestamp in timestamps:
            key_index = keyframe_index(timestamp, fps)
            boxes = []
            for person, (track,
                         segment_actions) in enumerate(zip(tracks, actions)):
                gt = relative_box(*track[key_index], box, size)
                boxes.append(gt)
                action = segment_actions[timestamp - TIMESTAMP_START]
                rows.append(','.join([video_id, f'{timestamp:04d}'] +
                                     [f'{v:.3f}' for v in gt] +
                                     [str(action), str(person)]))
            proposals[f'{video_id},{timestamp:04d}'] = make_proposals(
                boxes, rng)
    annotations = out_dir / 'annotations'
    annotations.mkdir(parents=True, exist_ok=True)
    (annotations / ann_name(split)).write_text('\n'.join(rows) + '\n')
    # One excluded keyframe per split, as AVA's lists have (these keyframes
    # stay in the box CSV: the dataset and the metric must both skip them).
    excluded = f'{video_ids[0]},{timestamps[len(timestamps) // 2]:04d}'
    (annotations / exclude_name(split)).write_text(excluded + '\n')
    with open(annotations / proposal_name(split), 'wb') as f:
        pickle.dump(proposals, f)
    return dict(
        videos=num_videos,
        keyframes=len(proposals),
        boxes=len(rows),
        excluded=1)


def make_proposals(gt_boxes: Sequence[np.ndarray],
                   rng: np.random.Generator) -> np.ndarray:
    """Person detections of one keyframe: (N, 5) x1 y1 x2 y2 score."""
    rows = []
    for gt in gt_boxes:
        jittered = np.clip(gt + rng.uniform(-0.01, 0.01, size=4), 0, 1)
        rows.append(np.append(jittered, rng.uniform(0.92, 0.99)))
    # A confident false detection on the background ...
    x1, y1 = rng.uniform(0, 0.7, size=2)
    rows.append(np.array([x1, y1, x1 + 0.25, y1 + 0.25, 0.95]))
    # ... and a weak one that the dataset's score threshold removes.
    x1, y1 = rng.uniform(0, 0.6, size=2)
    rows.append(np.array([x1, y1, x1 + 0.3, y1 + 0.3, 0.3]))
    return np.round(np.stack(rows), 3).clip(0, 1)


def write_label_map(path: Path) -> None:
    """pbtxt in the layout of AVA's label maps (what MMAction2's
    ``read_labelmap`` parses): the evaluated classes only."""
    items = [
        f'item {{\n  name: "{ACTIONS[i]}"\n  id: {i}\n}}'
        for i in EVALUATED_ACTIONS
    ]
    path.write_text('\n'.join(items) + '\n')


def make_dataset(out_dir,
                 train_videos: int = DEFAULTS['train_videos'],
                 val_videos: int = DEFAULTS['val_videos'],
                 actors: int = DEFAULTS['actors'],
                 size: int = DEFAULTS['size'],
                 fps: int = DEFAULTS['fps'],
                 seconds: int = DEFAULTS['seconds'],
                 seed: int = DEFAULTS['seed']) -> Dict[str, Dict[str, int]]:
    """Write the dataset under ``out_dir``; returns counts per split."""
    if min(train_videos, val_videos, actors) < 1:
        raise ValueError('train_videos, val_videos and actors must be >= 1')
    if seconds < 3:
        raise ValueError('seconds must be >= 3 (keyframes skip the first '
                         'and the last second)')
    if fps < 1 or size < 16:
        raise ValueError('fps must be >= 1 and size >= 16')
    out_dir = Path(out_dir)
    arguments = dict(
        train_videos=train_videos,
        val_videos=val_videos,
        actors=actors,
        size=size,
        fps=fps,
        seconds=seconds,
        seed=seed)
    rng = np.random.default_rng(seed)
    counts = {
        split: make_split(out_dir, split, videos, actors, size, fps, seconds,
                          rng)
        for split, videos in (('train', train_videos), ('val', val_videos))
    }
    write_label_map(out_dir / 'annotations' / LABEL_FILE)
    meta = dict(
        arguments,
        counts=counts,
        actions=ACTIONS,
        evaluated_actions=list(EVALUATED_ACTIONS),
        timestamp_start=TIMESTAMP_START,
        timestamp_end=TIMESTAMP_START + seconds)
    (out_dir / 'meta.json').write_text(json.dumps(meta, indent=2))
    return counts
