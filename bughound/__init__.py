"""Bughound: a light, self-hosted error tracker that speaks Sentry's protocols."""

__version__ = "0.1.0"
