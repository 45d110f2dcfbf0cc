"""The daemon's wiring: configuration, the object graph, the status view. ``supervisor.main`` calls in."""
