"""Past one machine: ``detect`` and ``measure`` on a Ray cluster (``--engine ray``).

:mod:`~garmentcli.scale.listing` lists the inputs on the driver and names them as a local run
does (object-store URIs too), :mod:`~garmentcli.scale.cluster` runs the Ray Data pipeline (reading
and decoding in tasks, an actor pool of :class:`~garmentcli.runtime.predictor.Predictor` s) and
:mod:`~garmentcli.scale.shards` keeps each finished block in an atomic JSON Lines shard beside the
output, so an interrupted run resumes. Ray is optional (``pip install 'garmentkp[ray]'``); nothing
here imports it before a run asks for it. See docs/scale.md.
"""

ENGINES = ("local", "ray")
"""``--engine``: this process (threads decoding ahead of one network) or a Ray cluster."""
