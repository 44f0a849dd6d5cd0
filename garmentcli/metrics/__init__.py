"""Evaluation: COCO/DeepFashion2 AP and AR, PCK, AUC, EPE and NE, as pure vectorised functions.

:func:`~garmentcli.metrics.evaluate.evaluate` is the entry point (not imported here: ``detect``
needs only :mod:`~garmentcli.metrics.similarity` and starts faster without the rest).
:mod:`~garmentcli.metrics.coco` is the COCO AP/AR machinery (on
:mod:`~garmentcli.metrics.similarity`: OKS and box IoU), :mod:`~garmentcli.metrics.landmarks` the
mmpose-style landmark metrics, :mod:`~garmentcli.metrics.pairing` which prediction stands for which
garment, :mod:`~garmentcli.metrics.landmark_summary` and :mod:`~garmentcli.metrics.breakdown` the
per-category / per-attribute collection, :mod:`~garmentcli.metrics.report` rows and tables.
"""
