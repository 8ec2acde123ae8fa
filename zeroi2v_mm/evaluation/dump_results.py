"""``tools/test.py --dump``: MMEngine's ``DumpResults``, written atomically."""
from mmengine.evaluator import DumpResults
from mmengine.fileio import dump
from mmengine.logging import print_log

from mmaction.registry import METRICS

from ..utils.io import atomic_write


@METRICS.register_module()
class AtomicDumpResults(DumpResults):
    """``DumpResults`` whose pickle is written to a temporary file and
    renamed into place: a run that fails or is killed while dumping keeps
    the previous file whole (MMEngine's writes in place)."""

    def compute_metrics(self, results: list) -> dict:
        atomic_write(self.out_file_path,
                     lambda tmp: dump(results, tmp, file_format='pkl'))
        print_log(
            f'Results has been saved to {self.out_file_path}.',
            logger='current')
        return {}
