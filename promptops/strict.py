"""The one pydantic base of everything promptops reads from a file or saves."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A model whose unknown keys are an error: a mistyped key in a YAML file is reported, not ignored.

    Models that publish a schema (reports) add ``use_attribute_docstrings=True`` to their own
    ``model_config``, which pydantic merges with this one, so each field's docstring becomes its
    description. It is not the default: reading the docstrings from the source costs start-up time.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)


class DocumentedModel(StrictModel):
    """A strict model whose field docstrings are its JSON Schema's descriptions (the saved reports)."""

    model_config = ConfigDict(use_attribute_docstrings=True)
