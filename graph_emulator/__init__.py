"""A Microsoft Graph v1.0 emulator for the Graph calls Guest Lifecycle makes (invitations, users, groups,
deleted items), written from Graph's documented behaviour, with switches for replication lag, random faults,
latency, Graph's quotas (resource units, writes, invitations: on by default at Graph's sizes), and a
control API under /_emulator.

It imports nothing from the application: app and emulator must not share a misunderstanding.
"""

from .app import create_app
from .client import EmulatorControl
from .config import ConfigError, Switches, Throttle
from .server import EmulatorServer
from .state import Emulator, seed_group_ids

__all__ = ["ConfigError", "Emulator", "EmulatorControl", "EmulatorServer", "Switches", "Throttle",
           "create_app", "seed_group_ids"]
