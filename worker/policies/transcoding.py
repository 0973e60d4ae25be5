"""Mix-mode composition settings (Agora `transcodingConfig`)."""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from worker.policies.enums import Layout
from worker.policies.uids import parse_uid

MAX_PIXELS: Final = 1920 * 1080
_MIX_FPS: Final = (1, 7, 10, 15, 24, 30, 60)


class Transcoding(BaseModel):
    """Mix-mode video composition (Agora `transcodingConfig`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    width: int = Field(default=640, ge=16, le=1920, description="Mixed video width, px.")
    height: int = Field(default=360, ge=16, le=1920, description="Mixed video height, px.")
    fps: int = Field(default=15, description="Frame rate: 1, 7, 10, 15, 24, 30 or 60.")
    bitrate_kbps: int = Field(default=500, ge=1, le=6500, description="Video bitrate, kbps.")
    layout: Layout = Field(default=Layout.BEST_FIT, description="floating|best_fit|vertical.")
    background_color: str = Field(default="#000000", description="Canvas colour, #RRGGBB.")
    max_resolution_uid: str | None = Field(
        default=None, description="The uid shown large in the vertical layout."
    )
    background_image: str | None = Field(default=None, description="HTTPS image URL.")
    default_user_background_image: str | None = Field(
        default=None, description="HTTPS image shown for a user who sends no video."
    )

    @field_validator("fps")
    @classmethod
    def _check_fps(cls, value: int) -> int:
        if value not in _MIX_FPS:
            raise ValueError(f"must be one of {', '.join(map(str, _MIX_FPS))}, got {value}")
        return value

    @field_validator("background_color")
    @classmethod
    def _check_color(cls, value: str) -> str:
        if not re.fullmatch(r"#[0-9A-Fa-f]{6}", value):
            raise ValueError(f"must be a colour like #1A2B3C, got {value!r}")
        return value.upper()

    @field_validator("max_resolution_uid", mode="before")
    @classmethod
    def _check_uid(cls, value: Any) -> Any:
        return None if value is None else parse_uid(value)

    @field_validator("background_image", "default_user_background_image")
    @classmethod
    def _check_image(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https://[^\s/]+", value):
            raise ValueError(f"must be an https:// URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _check_size(self) -> Transcoding:
        if self.width * self.height > MAX_PIXELS:
            raise ValueError(
                f"width x height must be at most 1920x1080 pixels, got {self.width}x{self.height}"
            )
        if self.layout is Layout.VERTICAL and self.max_resolution_uid is None:
            raise ValueError("max_resolution_uid is required by the vertical layout")
        return self
