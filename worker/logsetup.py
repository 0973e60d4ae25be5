"""Process logging of the service: one format, and configured secrets never printed.

Every handler gets a `RedactSecrets` filter holding the plain values of the configured
secrets (`Settings.secret_values()`), so a secret that slips into a message or a traceback
is printed as `[redacted]`.
"""

from __future__ import annotations

import copy
import logging
import logging.config
from collections.abc import Iterable
from typing import Any

from worker.settings import ConfigError

REDACTED = "[redacted]"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MIN_SECRET_CHARS = 4


class RedactSecrets(logging.Filter):
    """Replaces each secret in a record's message and traceback by `[redacted]`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is removed whole; very short
        # values would shred every line and are not secrets worth the name.
        self._secrets = sorted(
            {s for s in secrets if len(s) >= _MIN_SECRET_CHARS}, key=len, reverse=True
        )

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if not self._secrets:
            return True
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def log_level(level: str) -> int:
    """AUTOREC_LOG_LEVEL as a `logging` level number."""
    value = logging.getLevelName(level.strip().upper())
    if not isinstance(value, int):
        raise ConfigError("AUTOREC_LOG_LEVEL: must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value


def configure_logging(level: int, secrets: Iterable[str]) -> None:
    """Log to stderr at `level` through a redacting handler (worker processes).

    arq's own command line gives the `arq` logger a handler of its own format; it is removed,
    so arq's lines too go through the one redacting handler.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    arq_logger = logging.getLogger("arq")
    for own in list(arq_logger.handlers):
        arq_logger.removeHandler(own)
    arq_logger.setLevel(logging.NOTSET)
    arq_logger.propagate = True


def uvicorn_log_config(level: str, secrets: Iterable[str]) -> dict[str, Any]:
    """uvicorn's logging config plus a root logger (the app's own logs) and redaction."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": RedactSecrets, "secrets": list(secrets)}}
    config["formatters"]["app"] = {"format": LOG_FORMAT}
    config["handlers"]["app"] = {
        "class": "logging.StreamHandler",
        "formatter": "app",
        "stream": "ext://sys.stderr",
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["root"] = {"handlers": ["app"], "level": level.upper()}
    return config
