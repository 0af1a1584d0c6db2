"""Logging: structured JSON lines through the standard library (which the Functions host collects)."""
from __future__ import annotations

import logging

import structlog


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(message)s")
    for noisy in ("httpx", "azure", "azure.core.pipeline.policies.http_logging_policy", "kiota_http"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.JSONRenderer()],
        logger_factory=structlog.stdlib.LoggerFactory(), cache_logger_on_first_use=True)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
