"""Strategies: actors that read bus data and send OrderIntents to the order router, never to venues."""

from actors.strategies.base import Reload, Strategy

__all__ = ["Strategy", "Reload"]
