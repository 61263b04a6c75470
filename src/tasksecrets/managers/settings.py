"""What the managers' config sections are made of: a strict section model and Kubernetes resources.

Each manager declares its own section (a subclass of :class:`Section`) in its package; the
admission core assembles the whole config from the registry (:mod:`tasksecrets.admission.config`).
Inside a section an unknown key is an error naming its full path and the closest known key.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ResourceRequirements", "Section", "SidecarSettings"]


class Section(BaseModel):
    """A config section: unknown keys are errors, values cannot change once loaded."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ResourceRequirements(Section):
    """A Kubernetes ``ResourceRequirements`` (quantities as given: ``200m``, ``500Mi``, ``1``)."""

    requests: dict[str, str | int | float] = Field(default_factory=dict)
    limits: dict[str, str | int | float] = Field(default_factory=dict)
    claims: list[dict[str, Any]] = Field(default_factory=list)

    def render(self) -> dict[str, Any]:
        """As a pod carries it: quantities as strings, empty parts left out."""
        out: dict[str, Any] = {}
        for part in ("limits", "requests"):
            values = getattr(self, part)
            if values:
                out[part] = {k: v if isinstance(v, str) else str(v) for k, v in values.items()}
        if self.claims:
            out["claims"] = [dict(c) for c in self.claims]
        return out


def _sidecar_resources(cpu: str = "200m", memory: str = "500Mi") -> ResourceRequirements:
    return ResourceRequirements(
        requests={"cpu": cpu, "memory": memory}, limits={"cpu": cpu, "memory": memory}
    )


class SidecarSettings(Section):
    """The pull-container managers' sections (AWS, GCP, Azure): the init container's image, resources."""

    sidecar_image: str = Field(default="", alias="sidecarImage")
    resources: ResourceRequirements = Field(default_factory=_sidecar_resources)
