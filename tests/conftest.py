"""Shared test settings: a headless matplotlib backend."""

import matplotlib

matplotlib.use("Agg")
