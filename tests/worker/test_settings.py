"""Settings helpers that commands share."""

from __future__ import annotations

import pytest

from worker.controller.start_request import StorageTarget
from worker.settings import ConfigError, Settings, redact_url


def test_redact_url_hides_the_password_of_a_redis_url() -> None:
    assert (
        redact_url("redis://app:hunter2@db.example:6380/1") == "redis://app:***@db.example:6380/1"
    )


def test_redact_url_leaves_a_url_without_password_alone() -> None:
    assert redact_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_a_max_api_qps_above_agoras_default_is_a_warning() -> None:
    settings = Settings(_env_file=None, autorec_max_api_qps=50)  # type: ignore[call-arg]
    (warning,) = settings.warnings()
    assert warning.startswith("AUTOREC_MAX_API_QPS=50 is above Agora's default limit of 10")


def test_agoras_default_max_api_qps_is_no_warning() -> None:
    assert Settings(_env_file=None, autorec_max_api_qps=10).warnings() == []  # type: ignore[call-arg]


@pytest.mark.parametrize("app_id", ["abc", "g" * 32, "0" * 31, "0" * 33])
def test_an_app_id_that_is_not_32_hex_characters_is_refused(app_id: str) -> None:
    with pytest.raises(ConfigError, match=r"^AGORA_APP_ID: must be 32 hexadecimal characters"):
        Settings.load(_env_file=None, agora_app_id=app_id)


def test_a_region_the_vendor_lacks_names_storage_region_without_pydantics_url() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        storage_vendor=1,
        storage_region=999,
        storage_bucket="bucket",
        storage_access_key="access",
        storage_secret_key="secret",
    )
    with pytest.raises(ConfigError) as raised:
        StorageTarget.from_settings(settings)
    assert str(raised.value) == "STORAGE_REGION: 999 is not a region code of vendor 1 (AMAZON_S3)"
