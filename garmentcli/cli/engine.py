"""The options that send ``detect`` and ``measure`` to a Ray cluster (docs/scale.md), shared by both."""

from __future__ import annotations

from typing import Annotated

import typer

from garmentcli.cli import common
from garmentcli.scale import ENGINES

EngineName = common.choices("EngineName", ENGINES)
"""``--engine``: one of :data:`~garmentcli.scale.ENGINES`."""
LOCAL = EngineName("local")

EngineOption = Annotated[
    EngineName, typer.Option(help="local: this process; ray: a Ray cluster, local or --ray-address (docs/scale.md).")
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        envvar="RAY_ADDRESS",
        help="With --engine ray: the cluster to run on (HOST:PORT of its head, or ray://HOST:10001); "
        "default: start Ray on this machine.",
    ),
]
RayActorsOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="With --engine ray: detecting actors (default: one per CPU of the cluster, per GPU with --device cuda).",
    ),
]


def on_ray(engine: EngineName) -> bool:  # type: ignore[valid-type]
    return engine.value == "ray"
