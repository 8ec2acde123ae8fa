from setuptools import find_packages, setup

setup(
    name='zeroi2v_mm',
    version='0.1.0',
    description='Zero-cost (ZeroI2V) and compressive (InTI) image-to-video '
    'adaptation of CLIP ViTs as an MMAction2 plugin',
    packages=find_packages(include=['zeroi2v_mm', 'zeroi2v_mm.*']),
    python_requires='>=3.9',
    # What zeroi2v_mm imports when it runs (the package, the configs'
    # pipelines and tools/); mmcv comes as mmcv-lite (extra 'lite') or full
    # mmcv 2.1 on GPU clusters. open_clip is only used by the tests, to check
    # the backbone against it (extra 'tests').
    install_requires=[
        'torch>=2.1',
        'torchvision',
        'numpy',
        'mmengine>=0.10.7,<0.11',
        'mmaction2==1.2.0',
        'mmpretrain>=1.2.0,<1.3',  # ZeroI2VImageViT, the image pre-training
        'decord>=0.6.0',  # the configs' DecordInit
    ],
    extras_require={
        # mmcv-lite is enough here; full mmcv 2.1 (GPU clusters) also works.
        'lite': ['mmcv-lite==2.1.0'],
        'ava': ['mmdet==3.3.0'],
        # requirements-test.txt pins these (and the linters of tools/lint.sh)
        'tests': ['pytest', 'pytest-xdist', 'open_clip_torch>=3.3.0'],
        # tools/deployment/export_onnx.py: ONNX export (both exporters) and
        # verification in onnxruntime.
        'export': ['onnx==1.23.2', 'onnxruntime==1.32.0', 'onnxscript==0.7.2'],
        # TensorboardVisBackend: the merge report and training scalars.
        'tensorboard': ['tensorboard==2.21.0'],
    },
)
