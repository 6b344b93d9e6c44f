"""Settings edited in a dialog are applied as changes, never as a whole copy: a field the dialog
did not show (the active voice, switched by voice meanwhile) keeps its current value."""
from __future__ import annotations

from app.settings.model import Settings


def changes(base: Settings, edited: Settings) -> dict:
    """The fields ``edited`` changes relative to ``base``, as nested {section: {field: value}}."""
    before, after = base.model_dump(), edited.model_dump()
    out: dict = {}
    for section, values in after.items():
        if isinstance(values, dict):
            diff = {k: v for k, v in values.items() if before.get(section, {}).get(k) != v}
            if diff:
                out[section] = diff
        elif before.get(section) != values:
            out[section] = values
    return out


def with_changes(current: Settings, delta: dict) -> Settings:
    """``current`` with ``delta`` (from ``changes``) applied, validated as a whole."""
    data = current.model_dump()
    for section, values in delta.items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section].update(values)
        else:
            data[section] = values
    return Settings.model_validate(data)
