"""What a preset is: one output, or a delivery set of several, each maybe for a sales channel.

Kept apart from loading (``app.governance.presets``) and the file format
(``app.governance.preset_files``) so both can use it; ``presets`` re-exports it all.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from app.core.compliance import Rules, describe, describe_codes
from app.core.errors import KnockoutError
from app.core.export import ExportSettings
from app.core.source_quality import DEFAULT_CHECKS, SourceChecks

READ_ON = "2026-12-05"  # when the built-in channel rules were read (see app.governance.channels)
CHANNELS_CHANGE = ("Channels change their rules without notice: check the channel's current page before a "
                   "season's shoot, and update the preset when they differ.")


class PresetError(KnockoutError):
    """A preset that does not exist, is not allowed, or a preset file we refuse (with why)."""

    code = "preset_error"


@dataclass(frozen=True)
class Source:
    """A public page a channel's rules were read from, and what was taken from it."""

    url: str
    took: str


@dataclass(frozen=True)
class Channel:
    """A sales channel's published image rules, as data: where and when they were read, and the
    rules a file's pixels cannot show (no props, no text...), said rather than pretended."""

    name: str
    sources: tuple[Source, ...] = ()
    read_on: str = READ_ON
    unchecked_rules: tuple[str, ...] = ()
    note: str = CHANNELS_CHANGE
    confirmed: bool = True  # False: the values come from a third-party page or none; confirm them

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sources": [{"url": s.url, "took": s.took} for s in self.sources],
                "read_on": self.read_on, "unchecked_rules": list(self.unchecked_rules), "note": self.note,
                "confirmed": self.confirmed}


@dataclass(frozen=True)
class Output:
    """One file of a delivery set: its own settings, file-name template, rules and channel."""

    id: str
    label: str
    settings: ExportSettings
    template: str
    rules: Rules | None = None
    channel: Channel | None = None

    def as_dict(self) -> dict[str, Any]:
        """How the window lists a set's outputs (no pixels, no settings beyond what it shows)."""
        return {"id": self.id, "label": self.label, "format": self.settings.format, "template": self.template,
                "extension": self.settings.extension, "checks": describe(self.rules) if self.rules else [],
                "check_codes": describe_codes(self.rules) if self.rules else [],
                "channel": self.channel.as_dict() if self.channel else None}


@dataclass(frozen=True)
class Preset:
    """Export settings + a file-name template + optional rules; or, with ``outputs``, a delivery
    set: several files from one mask. A set's ``settings`` and ``template`` are its first
    output's (what a journal header or an old caller reads), its ``rules`` None."""

    id: str
    label: str
    description: str
    settings: ExportSettings
    template: str = "{stem}-{preset}"
    rules: Rules | None = None
    locked: bool = False
    version: int = 1
    source: str = "builtin"  # builtin | team | policy
    outputs: tuple[Output, ...] = ()
    channel: Channel | None = None
    source_checks: SourceChecks = DEFAULT_CHECKS  # which source quality checks run, and their thresholds

    @property
    def is_set(self) -> bool:
        return bool(self.outputs)

    def with_settings(self, change: Any) -> Preset:
        """This preset with ``change(settings)`` applied to its settings and every output's
        (IT's policy, the app's mask options); the same object when nothing changed."""
        settings = change(self.settings)
        outputs = tuple(o if (s := change(o.settings)) is o.settings else dataclasses.replace(o, settings=s)
                        for o in self.outputs)
        if settings is self.settings and all(a is b for a, b in zip(outputs, self.outputs, strict=True)):
            return self
        if outputs:
            settings = outputs[0].settings
        return dataclasses.replace(self, settings=settings, outputs=outputs)

    def as_dict(self) -> dict[str, Any]:
        """The desktop contract's Preset (plus template, version, source; a set's outputs; a channel)."""
        out = {"id": self.id, "label": self.label, "description": self.description,
               "format": self.settings.format, "locked": self.locked, "template": self.template,
               "version": self.version, "source": self.source}
        if self.outputs:
            out["outputs"] = [o.as_dict() for o in self.outputs]
        if self.channel is not None:
            out["channel"] = self.channel.as_dict()
        if self.rules is not None:
            out["checks"] = describe(self.rules)
            out["check_codes"] = describe_codes(self.rules)  # the same, for the window's languages
        return out
