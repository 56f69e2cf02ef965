"""interviewer: a self-hosted, fully offline mock interviewer for LLM engineering interviews."""

from interviewer import privacy as _privacy  # noqa: F401  (must run before any library import)

__version__ = "0.1.0"
