"""Mixed-video layouts: `transcodingConfig` and the body of `updateLayout` (mix mode)."""

from __future__ import annotations

from enum import IntEnum
from typing import Self

from pydantic import Field, field_validator, model_validator

from worker.agora.models.common import FieldRuleError, Uid, WireModel

MAX_LAYOUT_REGIONS = 17
MAX_PIXELS = 1920 * 1080
SUPPORTED_FPS = frozenset({1, 7, 10, 15, 24, 30, 60})


class MixedVideoLayout(IntEnum):
    """Layout of a mixed video."""

    FLOATING = 0
    BEST_FIT = 1
    VERTICAL = 2
    CUSTOM = 3


class RenderMode(IntEnum):
    """How a video fills its region."""

    CROPPED = 0
    FIT = 1


_HEX_COLOR = r"^#[0-9A-Fa-f]{6}$"
_HTTP_URL = r"^https?://\S+$"
_HTTPS_URL = r"^https://\S+$"


class LayoutRegion(WireModel):
    """One region of a custom layout (`layoutConfig[]`); coordinates are fractions of 1."""

    uid: Uid | None = None
    """The user shown here; regions without uid are filled in join order."""
    x_axis: float = Field(alias="x_axis", ge=0, le=1)
    y_axis: float = Field(alias="y_axis", ge=0, le=1)
    width: float = Field(ge=0, le=1)
    height: float = Field(ge=0, le=1)
    alpha: float | None = Field(default=None, ge=0, le=1)
    render_mode: RenderMode | None = Field(default=None, alias="render_mode")


class UserBackground(WireModel):
    """A user's background image (`backgroundConfig[]`)."""

    uid: Uid
    image_url: str = Field(alias="image_url", pattern=_HTTPS_URL)
    render_mode: RenderMode | None = Field(default=None, alias="render_mode")


class LayoutFields(WireModel):
    """Layout settings shared by `transcodingConfig` and `updateLayout`."""

    mixed_video_layout: MixedVideoLayout | None = None
    max_resolution_uid: Uid | None = None
    """The large window of the vertical layout."""
    background_color: str | None = Field(default=None, pattern=_HEX_COLOR)
    background_image: str | None = Field(default=None, pattern=_HTTP_URL)
    default_user_background_image: str | None = Field(default=None, pattern=_HTTP_URL)
    layout_config: list[LayoutRegion] | None = Field(
        default=None, min_length=1, max_length=MAX_LAYOUT_REGIONS
    )
    background_config: list[UserBackground] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _layout_rules(self) -> Self:
        layout = self.mixed_video_layout
        if layout is MixedVideoLayout.CUSTOM and not self.layout_config:
            raise FieldRuleError("layoutConfig", "is required with mixedVideoLayout 3 (custom)")
        if self.layout_config is not None and layout is not MixedVideoLayout.CUSTOM:
            raise FieldRuleError("layoutConfig", "needs mixedVideoLayout 3 (custom)")
        if layout is MixedVideoLayout.VERTICAL and self.max_resolution_uid is None:
            raise FieldRuleError("maxResolutionUid", "is required with mixedVideoLayout 2")
        if self.max_resolution_uid is not None and layout is not MixedVideoLayout.VERTICAL:
            raise FieldRuleError("maxResolutionUid", "needs mixedVideoLayout 2 (vertical)")
        return self


class TranscodingConfig(LayoutFields):
    """Mixed video output (`transcodingConfig`, mix mode)."""

    width: int = Field(ge=1, le=1920)
    height: int = Field(ge=1, le=1920)
    fps: int
    bitrate: int = Field(ge=1, le=6500)
    """kbps."""

    @field_validator("fps")
    @classmethod
    def _supported_fps(cls, fps: int) -> int:
        if fps not in SUPPORTED_FPS:
            raise ValueError(f"must be one of {sorted(SUPPORTED_FPS)}")
        return fps

    @model_validator(mode="after")
    def _resolution(self) -> Self:
        if self.width * self.height > MAX_PIXELS:
            raise FieldRuleError("width", "width x height must not exceed 1920 x 1080")
        return self
