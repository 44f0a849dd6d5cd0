"""Validated settings: the tool's configuration classes checked field by field when they are made.

:func:`settings_class` turns a class body into a frozen pydantic dataclass, so a model config, a set
of decoding options or a model card is checked type by type and range by range wherever it comes
from (a card on disk, a checkpoint, ``--arch``, the Python API), while staying a plain dataclass for
the code around it (``dataclasses.replace``, ``asdict``, equality and hashing). A bad value is one
:class:`~garmentcli.errors.SchemaError` line naming the class, the field and the value
(``ModelConfig.width: Input should be a valid integer, got a number with a fractional part (got
40.5)``) instead of a traceback from deep inside torch. :func:`first_problem` words a pydantic
``ValidationError`` the same way for the models validated elsewhere (measurement definitions).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import ConfigDict, Field, ValidationError

from garmentcli.errors import SchemaError

T = TypeVar("T")

Int = Annotated[int, Field(strict=True)]
"""A whole number: ``40.5``, ``"40"`` and ``True`` are refused."""
PositiveInt = Annotated[int, Field(strict=True, ge=1)]
NonNegativeInt = Annotated[int, Field(strict=True, ge=0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
"""A number from 0 to 1 (an integer is accepted: ``0``)."""
PositiveFloat = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


def _value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def first_problem(exc: ValidationError, name: str = "") -> str:
    """The first error of ``exc`` as one line: ``name.field: what is wrong (got value)``."""
    error = exc.errors(include_url=False)[0]
    location = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    where = ".".join(part for part in (name, location) if part)
    if error["type"] == "extra_forbidden" or error["type"] == "unexpected_keyword_argument":
        return f"{where}: unknown field"
    if error["type"] in ("missing", "missing_argument"):
        return f"{where}: missing"
    shown = f" (got {_value(error['input'])})" if location else ""
    return f"{where}: {message}{shown}" if where else f"{message}{shown}"


def settings_class(cls: type[T] | None = None, *, frozen: bool = True) -> Any:
    """A field-by-field validated dataclass of ``cls`` (frozen unless told otherwise); bad values raise a
    one-line :class:`SchemaError`. Use as ``@settings_class`` or ``@settings_class(frozen=False)``.

    Unknown keyword arguments are refused. ``__post_init__`` runs after the fields are checked, for the
    checks that span fields; it may raise :class:`SchemaError` itself.
    """
    if cls is None:
        return functools.partial(settings_class, frozen=frozen)
    made: Any = pydantic.dataclasses.dataclass(frozen=frozen, config=ConfigDict(extra="forbid"))(cls)
    validated: Callable[..., None] = made.__init__

    @functools.wraps(validated)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            validated(self, *args, **kwargs)
        except ValidationError as exc:
            raise SchemaError(first_problem(exc, cls.__name__)) from None

    made.__init__ = __init__
    return made
