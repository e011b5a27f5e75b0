"""gpu_runner: grade on a GPU what needs one, from the parts of the engine that students write.

    python -m gpu_runner run --submission <notebook | folder> [--lab LAB] --out <dir> [--cpu]

A submission's exercises are extracted exactly as the autograder extracts them, ``labkit.engine`` is
assembled from them, and each check runs in its own process: correctness on the device first
(paged engine vs transformers, speculative decoding, sampling filters, quantization bounds), then,
only if all of that passed, throughput as ratios to baselines measured in the same run. Reports:
``report.json``, ``junit.xml``, ``summary.md`` (+ ``throughput.png``). Without a CUDA device the
checks are "blocked" unless ``--cpu`` runs their tiny-model versions. See docs/instructor/gpu_runner.md.

On a GPU host it needs only torch, transformers and numpy (nbformat and matplotlib are optional).
"""
