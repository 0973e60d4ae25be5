"""`storageConfig`: where Agora uploads recordings, per vendor (agora-facts §2.4)."""

from __future__ import annotations

import re
from enum import IntEnum, StrEnum
from typing import Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from worker.agora.models.common import FieldRuleError, WireModel, WireSecret


class StorageVendor(IntEnum):
    """Third-party storage vendors Cloud Recording uploads to."""

    AMAZON_S3 = 1
    ALIBABA_CLOUD = 2
    TENCENT_CLOUD = 3
    MICROSOFT_AZURE = 5
    GOOGLE_CLOUD = 6
    HUAWEI_CLOUD = 7
    BAIDU_AI_CLOUD = 8
    S3_COMPATIBLE = 11


REGIONS: dict[StorageVendor, frozenset[int]] = {
    StorageVendor.AMAZON_S3: frozenset(set(range(26)) - {17, 23}),
    StorageVendor.ALIBABA_CLOUD: frozenset(range(28)),
    StorageVendor.TENCENT_CLOUD: frozenset(range(20)),
    StorageVendor.MICROSOFT_AZURE: frozenset({0}),
    StorageVendor.GOOGLE_CLOUD: frozenset({0}),
    StorageVendor.HUAWEI_CLOUD: frozenset(range(16)),
    # 1..7 today; older docs also had 0 (Beijing), which is still accepted.
    StorageVendor.BAIDU_AI_CLOUD: frozenset(range(8)),
    StorageVendor.S3_COMPATIBLE: frozenset({0}),
}
"""Region codes each vendor accepts (agora-facts §2.4, region-vendor reference)."""

_STS_VENDORS = frozenset(
    {StorageVendor.AMAZON_S3, StorageVendor.ALIBABA_CLOUD, StorageVendor.TENCENT_CLOUD}
)
_TAG_VENDORS = frozenset({StorageVendor.AMAZON_S3, StorageVendor.ALIBABA_CLOUD})
_PREFIX_ELEMENT = re.compile(r"[A-Za-z0-9]+")
PREFIX_MAX_CHARS = 128


class ServerSideEncryption(StrEnum):
    """Amazon S3 server-side encryption (`extensionParams.sse`)."""

    KMS = "kms"
    AES256 = "aes256"


class StorageExtensionParams(WireModel):
    """`storageConfig.extensionParams`: encryption, tags, and the S3-compatible endpoint."""

    sse: ServerSideEncryption | None = None
    tag: str | None = Field(default=None, min_length=1)
    endpoint: str | None = Field(default=None, min_length=1, pattern=r"^\S+$")


class StorageConfig(WireModel):
    """Third-party storage of the recorded files (`storageConfig`, required in start)."""

    vendor: StorageVendor
    region: int
    bucket: str = Field(min_length=1, max_length=255, pattern=r"^\S+$")
    access_key: WireSecret
    secret_key: WireSecret
    sts_token: WireSecret | None = None
    """Temporary credential (vendors 1, 2, 3); refresh through `update` before it expires."""
    sts_expiration: int | None = Field(default=None, ge=0)
    """Unix seconds when `sts_token` expires."""
    file_name_prefix: list[str] | None = None
    """Folders of the files: elements of `[A-Za-z0-9]`, at most 128 characters joined by `/`."""
    extension_params: StorageExtensionParams | None = None

    @field_validator("region")
    @classmethod
    def _region_of_vendor(cls, region: int, info: ValidationInfo) -> int:
        vendor = info.data.get("vendor")
        if vendor is not None and region not in REGIONS[vendor]:
            raise ValueError(
                f"{region} is not a region code of vendor {int(vendor)} ({vendor.name})"
            )
        return region

    @field_validator("access_key", "secret_key")
    @classmethod
    def _not_empty(cls, value: WireSecret) -> WireSecret:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @field_validator("file_name_prefix")
    @classmethod
    def _prefix_rules(cls, prefix: list[str] | None) -> list[str] | None:
        if prefix is None:
            return None
        if not prefix:
            raise ValueError("must hold at least one folder name (or be omitted)")
        for index, element in enumerate(prefix):
            if not _PREFIX_ELEMENT.fullmatch(element):
                raise ValueError(f"element {index} may hold only letters and digits [A-Za-z0-9]")
        if len("/".join(prefix)) > PREFIX_MAX_CHARS:
            raise ValueError(f"must be at most {PREFIX_MAX_CHARS} characters joined with '/'")
        return prefix

    @model_validator(mode="after")
    def _vendor_rules(self) -> Self:
        if (self.sts_token is not None or self.sts_expiration is not None) and (
            self.vendor not in _STS_VENDORS
        ):
            raise FieldRuleError("stsToken", "is supported only by vendors 1, 2 and 3")
        params = self.extension_params
        if self.vendor is StorageVendor.S3_COMPATIBLE and (params is None or not params.endpoint):
            raise FieldRuleError("extensionParams.endpoint", "is required for vendor 11")
        if params is None:
            return self
        if params.endpoint is not None and self.vendor is not StorageVendor.S3_COMPATIBLE:
            raise FieldRuleError("extensionParams.endpoint", "is only for vendor 11")
        if params.sse is not None and self.vendor is not StorageVendor.AMAZON_S3:
            raise FieldRuleError("extensionParams.sse", "is only for vendor 1 (Amazon S3)")
        if params.tag is not None and self.vendor not in _TAG_VENDORS:
            raise FieldRuleError("extensionParams.tag", "is only for vendors 1 and 2")
        return self
