"""Enums of the public contract."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class ActivityCategory(Enum):
    ANY = "ANY"
    LOGIN = "LOGIN"
    IDE = "IDE"
    APP = "APP"
    TUNNEL = "TUNNEL"
    WEB_TERMINAL = "WEB_TERMINAL"


@strawberry.enum
class ActiveWindow(Enum):
    CALENDAR = "CALENDAR"
    ROLLING = "ROLLING"


@strawberry.enum
class FillPolicy(Enum):
    FORWARD = "FORWARD"
    NONE = "NONE"


@strawberry.enum
class InsightsInterval(Enum):
    DAY = "DAY"
    WEEK = "WEEK"


@strawberry.enum
class LatencyBand(Enum):
    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"


@strawberry.enum
class AppKind(Enum):
    BUILTIN = "BUILTIN"
    APP = "APP"


@strawberry.enum
class SessionInterval(Enum):
    DAY = "DAY"
    WEEK = "WEEK"


@strawberry.enum
class CostDimension(Enum):
    MODEL = "MODEL"
    PROJECT = "PROJECT"
    USER = "USER"


@strawberry.enum
class AnalyticsScope(Enum):
    SELF = "SELF"
    TEAM = "TEAM"
