"""Mixed-video layout rules shared by start's transcodingConfig and updateLayout."""

from __future__ import annotations

import re

from sandbox.fields import Fields, InvalidParameter, check_uid

LAYOUT_FIELDS = (
    "mixedVideoLayout",
    "maxResolutionUid",
    "backgroundColor",
    "backgroundImage",
    "defaultUserBackgroundImage",
    "layoutConfig",
    "backgroundConfig",
)
TRANSCODING_FIELDS = ("width", "height", "fps", "bitrate", *LAYOUT_FIELDS)
_REGION_FIELDS = ("uid", "x_axis", "y_axis", "width", "height", "alpha", "render_mode")
_BACKGROUND_FIELDS = ("uid", "image_url", "render_mode")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_LAYOUT_VERTICAL = 2
_LAYOUT_CUSTOM = 3
MAX_REGIONS = 17


def check_layout(layout: Fields) -> None:
    """Agora's layout rules: layout kind 0..3, vertical needs maxResolutionUid, custom needs
    layoutConfig (≤ 17 regions in [0, 1]), colours #RRGGBB, background images over HTTPS."""
    kind = layout.integer("mixedVideoLayout", 0, 3) or 0
    if layout.has("maxResolutionUid"):
        check_uid(layout.data["maxResolutionUid"], layout.at("maxResolutionUid"))
    elif kind == _LAYOUT_VERTICAL:
        raise InvalidParameter(layout.at("maxResolutionUid"), "is required by vertical layout")
    color = layout.text("backgroundColor")
    if color is not None and not _COLOR.fullmatch(color):
        raise InvalidParameter(layout.at("backgroundColor"), "must be #RRGGBB")
    layout.text("backgroundImage")
    layout.text("defaultUserBackgroundImage")
    regions = layout.objs(
        "layoutConfig", _REGION_FIELDS, required=kind == _LAYOUT_CUSTOM, max_items=MAX_REGIONS
    )
    for region in regions or []:
        if region.has("uid"):
            check_uid(region.data["uid"], region.at("uid"))
        for key in ("x_axis", "y_axis", "width", "height"):
            region.number(key, 0.0, 1.0, required=True)
        region.number("alpha", 0.0, 1.0)
        region.integer("render_mode", 0, 1)
    for background in layout.objs("backgroundConfig", _BACKGROUND_FIELDS) or []:
        check_uid(background.data.get("uid"), background.at("uid"))
        url = background.text("image_url", required=True)
        if url is not None and not url.startswith("https://"):
            raise InvalidParameter(background.at("image_url"), "must be an HTTPS URL")
        background.integer("render_mode", 0, 1)


def check_transcoding(config: Fields) -> None:
    """transcodingConfig: canvas ≤ 1920x1080 pixels, bitrate ≤ 6500 kbps, plus the layout."""
    width = config.integer("width", 1, 1920 * 1080) or 360
    height = config.integer("height", 1, 1920 * 1080) or 640
    if width * height > 1920 * 1080:
        raise InvalidParameter(config.at("width"), "times height must be at most 1920x1080")
    config.integer("fps", 1, 60)
    config.integer("bitrate", 1, 6500)
    check_layout(config)
