"""Runtime: everything needed to load and run a model (backends, resolution, conversion, INT8, caches)."""
