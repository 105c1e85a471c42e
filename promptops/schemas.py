"""JSON Schemas of promptops.yaml and suite files, from their pydantic models, for editors.

``promptops schema config|suite`` prints them; ``promptops init`` writes them to ``schemas/`` and names
them in a ``# yaml-language-server: $schema=...`` comment at the top of the files it creates, so editors
with the YAML language server (VS Code's YAML extension, Neovim, JetBrains) complete and check keys.
"""

from __future__ import annotations

from typing import Any

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILES = {"config": "promptops.schema.json", "suite": "suite.schema.json"}
"""File names ``promptops init`` writes under ``schemas/``."""

_FILE_REFERENCE: dict[str, Any] = {
    "type": "string",
    "pattern": "^file://",
    "description": "A CSV, JSONL, JSON or YAML file of cases (globs allowed), relative to the suite file.",
}


def config_schema() -> dict[str, Any]:
    """The schema of ``promptops.yaml``."""
    from promptops.config import ProjectConfig

    schema = ProjectConfig.model_json_schema(by_alias=True)
    return {"$schema": SCHEMA_DIALECT, **schema, "title": "promptops.yaml"}


def suite_schema() -> dict[str, Any]:
    """The schema of a suite file; ``cases`` may also name case files (``file://...``)."""
    from promptops.suites import SuiteFile

    schema = SuiteFile.model_json_schema(by_alias=True)
    cases = schema["properties"]["cases"]
    # case files are read before validation, so the model only sees mappings; the file may hold references
    schema["properties"]["cases"] = {
        "description": cases.get("description", ""),
        "anyOf": [
            _FILE_REFERENCE,
            {"type": "array", "minItems": 1, "items": {"anyOf": [cases["items"], _FILE_REFERENCE]}},
        ],
    }
    return {"$schema": SCHEMA_DIALECT, **schema, "title": "promptops suite"}


SCHEMAS = {"config": config_schema, "suite": suite_schema}
