"""``garmentkp synth``: procedural flat-lay garment photos with exact DeepFashion2 ground truth.

:mod:`~garmentcli.synth.scene` makes one image (``generate``), :mod:`~garmentcli.synth.writer`
a dataset; the other modules each do one step (charts, geometry, deformation, layout, camera,
texture, details, prints, markers, rendering, ground truth), driven by the JSON data beside them.
"""
