"""Logging: structured JSON lines through the standard library (which the Functions host collects)."""
from __future__ import annotations

import logging

import structlog

_NOISY = ("httpx", "azure", "kiota_http")
_configured = False


def _configure_structlog() -> None:
    global _configured
    if not _configured:
        structlog.configure(
            processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                        structlog.processors.JSONRenderer()],
            logger_factory=structlog.stdlib.LoggerFactory(), cache_logger_on_first_use=True)
        _configured = True


def configure_logging(level: int = logging.INFO) -> None:
    """For the command line: log to stderr (in Azure the Functions host owns the root logger)."""
    logging.basicConfig(level=level, format="%(message)s")
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    _configure_structlog()


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    _configure_structlog()
    return structlog.get_logger(name)
