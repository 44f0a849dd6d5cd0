"""The tool's exceptions: one flat hierarchy, each message a single line naming the culprit."""

from __future__ import annotations


class GarmentError(Exception):
    """Base of every error garmentkp raises on purpose; the CLI prints it as one line."""


class SchemaError(GarmentError):
    """A category, landmark or layout fact is unknown or inconsistent."""


class InputError(GarmentError):
    """A user-supplied file, folder or argument cannot be used."""


class FormatError(InputError):
    """A file was read but its content is not the format it should be (malformed entry, wrong lengths, NaN)."""


class ModelNotFoundError(InputError):
    """No model file, bundled model or cached model of the name given (a ``--model`` spec)."""


class ImageReadError(InputError):
    """An image file cannot be decoded (corrupt, empty, not an image, too large, unreadable)."""


class MissingDependencyError(GarmentError):
    """An optional dependency (such as torch) is needed for this operation but not installed."""


def require_torch():  # noqa: ANN201 - returns the torch module
    """Import torch, or explain how to install the optional extra."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "this needs PyTorch, which is optional: pip install 'garmentkp[torch]' -c constraints.txt"
        ) from exc
    return torch
