"""The names and defaults the command line offers before any work starts, in a module that imports nothing.

Typer reads every command's options (their choices and defaults) to build ``--help`` and to parse
a command line; keeping them here lets ``garmentkp --help`` and ``--version`` run without numpy,
OpenCV, pandas or onnxruntime. The library modules that implement these names take them from here
(:data:`BACKEND_NAMES` are the keys of ``runtime.backends.BACKENDS``; a test checks that they agree).
The annotation formats' names are :mod:`garmentcli.io.formats`'s own, which imports its formats on use.
"""

from __future__ import annotations

DEFAULT_MODEL = "default"
"""The model ``--model`` names when it is not given."""

BACKEND_NAMES = ("onnx", "torch")
"""``--backend``: what runs the network."""
DEVICES = ("cpu", "cuda")
"""``--device``: where a backend runs."""
PRECISIONS = ("float32", "int8")
"""``--precision``: the model's float graph, or its int8 variant (``garmentkp quantize``; a model card's
``precision``)."""
FLOAT32, INT8 = PRECISIONS
AUTO_PRECISION = "auto"
"""``--precision auto`` (the default): int8 where it is faster, the CPU with onnxruntime, when the model has an int8
variant; float32 otherwise (:func:`garmentcli.models.registry.precision_spec`)."""
CALIBRATIONS = ("minmax", "percentile", "entropy")
"""``quantize --calibration``: how onnxruntime sets the activation ranges from the calibration images."""

METRICS = ("ap", "box", "pck", "auc", "epe", "ne")
"""``eval --metrics``: keypoint AP, box AP and the landmark metrics."""
PAIRINGS = ("auto", "oks", "id")
"""``eval --pairing``: which prediction stands for which garment (see :mod:`garmentcli.metrics.pairing`)."""
IMAGE_PAIRINGS = ("auto", "name", "id")
"""``eval --pair-by``: which ground-truth image a prediction image is."""

PAPER_CM: dict[str, tuple[float, float]] = {"a4": (21.0, 29.7), "letter": (21.59, 27.94), "a3": (29.7, 42.0)}
"""``board --paper``: paper sizes (width, height in cm, portrait) a board's pages must fit on; ``none`` checks
nothing."""

MIN_CONFIDENCE = 0.1
"""``measure --min-confidence``: a predicted landmark below this confidence counts as missing."""
