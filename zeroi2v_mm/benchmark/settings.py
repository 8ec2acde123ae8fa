"""What a benchmark run measures and how often (:class:`BenchmarkSettings`)."""
import dataclasses
from typing import Any, Dict, List, Optional


@dataclasses.dataclass
class BenchmarkSettings:
    """Settings of one benchmark run; ``tools/benchmark.py`` builds them
    from its flags.

    Args:
        configs (list[str]): Config files to compare (unique file stems).
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
        warmup / repeats (int): Inference warm-up and timed rounds.
        train_warmup / train_repeats (int): Training warm-up rounds (after
            the memory step) and timed rounds.
        train_batch (int): Clips per training step.
        max_batch (int): Throughput batch cap, in views.
        views (int, optional): Views per clip for latency. Defaults to None
            (the config's test views).
        threads (int, optional): CPU threads. Defaults to None (torch's).
        throughput / train / attention (bool): Measure them. Default True.
        unmerged (bool): Also time the models of configs that merge as
            trained. Defaults to True.
        share (bool): Time identical deployed networks once. Defaults to
            True.
        compile (bool): Also time every deployed network after
            ``torch.compile`` (Inductor). Defaults to False.
        counts_only (bool): Parameters and FLOPs only. Defaults to False.
        quick (bool): Recorded in the report (smoke-test settings).
        cfg_options (dict, optional): Applied to every config.

    :meth:`for_device` fills the device-dependent defaults.
    """
    configs: List[str]
    device: str = 'cpu'
    warmup: int = 1
    repeats: int = 5
    train_warmup: int = 0
    train_repeats: int = 3
    train_batch: int = 1
    max_batch: int = 4
    views: Optional[int] = None
    threads: Optional[int] = None
    throughput: bool = True
    train: bool = True
    attention: bool = True
    unmerged: bool = True
    share: bool = True
    compile: bool = False
    counts_only: bool = False
    quick: bool = False
    cfg_options: Optional[Dict[str, Any]] = None

    @staticmethod
    def defaults(device: str, quick: bool = False) -> Dict[str, int]:
        """Round counts and batch sizes for ``device``: short on a CPU
        (seconds per ViT-B call), longer on a GPU; ``quick`` is a smoke
        test."""
        if quick:
            return dict(
                warmup=1,
                repeats=2,
                train_warmup=0,
                train_repeats=1,
                train_batch=1,
                max_batch=2)
        cuda = device == 'cuda'
        return dict(
            warmup=3 if cuda else 1,
            repeats=20 if cuda else 5,
            train_warmup=2 if cuda else 0,
            train_repeats=10 if cuda else 3,
            train_batch=8 if cuda else 1,
            max_batch=1024 if cuda else 4)

    @classmethod
    def for_device(cls,
                   configs: List[str],
                   device: str = 'cpu',
                   quick: bool = False,
                   **fields) -> 'BenchmarkSettings':
        """Settings with :meth:`defaults` for every count left None."""
        for key, value in cls.defaults(device, quick).items():
            if fields.get(key) is None:
                fields[key] = value
        settings = cls(
            configs=list(configs), device=device, quick=quick, **fields)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        if self.device not in ('cpu', 'cuda'):
            raise ValueError(f"device must be 'cpu' or 'cuda', not "
                             f'{self.device!r}')
        for key in ('repeats', 'train_repeats', 'train_batch', 'max_batch'):
            if getattr(self, key) < 1:
                raise ValueError(f'{key} must be >= 1, not '
                                 f'{getattr(self, key)}')
        for key in ('warmup', 'train_warmup'):
            if getattr(self, key) < 0:
                raise ValueError(f'{key} must be >= 0, not '
                                 f'{getattr(self, key)}')
        if self.views is not None and self.views < 1:
            raise ValueError(f'views must be >= 1, not {self.views}')
        if not self.configs:
            raise ValueError('no configs to benchmark')

    def for_report(self) -> Dict[str, Any]:
        """The settings as the JSON report records them."""
        return dict(
            warmup=self.warmup,
            repeats=self.repeats,
            train_warmup=self.train_warmup,
            train_repeats=self.train_repeats,
            train_batch=self.train_batch,
            max_batch=self.max_batch,
            views=self.views,
            quick=self.quick,
            share=self.share,
            throughput=self.throughput,
            train=self.train,
            counts_only=self.counts_only,
            compile=self.compile)
