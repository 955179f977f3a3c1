"""Shared test settings: deterministic, single-threaded CPU torch for stable timings."""

import matplotlib

matplotlib.use("Agg")
