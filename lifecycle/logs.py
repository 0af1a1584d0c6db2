"""Logging: structured JSON lines through the standard library (which the Functions host collects).

Every module of the app logs through `get_logger`: one line a record, `{"event": ..., "level": ..., "timestamp": ...,
<fields>}`, a traceback (log.exception) under "exception"."""
from __future__ import annotations

import logging

import structlog

# At INFO these log every request's URL and headers: Graph URLs with guests' emails in $filter, Table queries.
NOISY_LOGGERS = ("httpx", "httpcore", "azure", "kiota_http", "kiota_abstractions", "kiota_authentication_azure",
                 "msgraph", "msgraph_core", "urllib3")
_configured = False


def _configure_structlog() -> None:
    global _configured
    if not _configured:
        structlog.configure(
            processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                        structlog.processors.format_exc_info, structlog.processors.JSONRenderer(default=str)],
            logger_factory=structlog.stdlib.LoggerFactory(), cache_logger_on_first_use=True)
        _configured = True


def quiet_dependency_loggers() -> None:
    """The SDKs' and HTTP clients' loggers at WARNING. Called when a worker first builds its services (the path
    every HTTP and timer function takes in the Functions host) and by the command line; never at import time."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(level: int = logging.INFO) -> None:
    """For the command line: log to stderr (in Azure the Functions host owns the root logger)."""
    logging.basicConfig(level=level, format="%(message)s")
    quiet_dependency_loggers()
    _configure_structlog()


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    _configure_structlog()
    return structlog.get_logger(name)
