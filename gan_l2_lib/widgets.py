"""Widget wiring only: sliders and buttons connected to cached data and ``plotting`` functions.

Nothing here computes a result of its own; callbacks are plain functions that can be tested
without a browser.
"""

from __future__ import annotations
