"""The engine, its backends and the executor façades."""
