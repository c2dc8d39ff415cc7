"""sofrito: incremental computation for Python."""

from sofrito._errors import (
    Cancelled,
    CycleError,
    Lagged,
    MissingDependency,
    NotFound,
    QueryError,
    Suspend,
)

__all__ = [
    "Cancelled",
    "CycleError",
    "Lagged",
    "MissingDependency",
    "NotFound",
    "QueryError",
    "Suspend",
]
