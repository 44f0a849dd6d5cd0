"""The scene presets of the generator (``scene.json`` beside this module): layout, camera, light, effects."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def scene_params() -> dict[str, Any]:
    """The bundled ``scene.json``, parsed once."""
    return json.loads(resources.files("garmentcli.synth").joinpath("scene.json").read_text("utf-8"))
