"""Shared test settings: a headless matplotlib backend and one torch thread.

Tests use tiny tensors, where a second thread costs more than it gains and, on a busy
2-core machine, waits on the other core; one thread keeps timings steady.
"""

import matplotlib
import torch

matplotlib.use("Agg")
torch.set_num_threads(1)
