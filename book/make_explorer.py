"""Pre-render the static λ explorer: one small WebP per (data set, λ_G, λ_D, seed) of the shipped
2-D sweeps, plus ``explorer.json`` (the grids and file names) that the explorer page's sliders read.

Each picture is ``plotting.plot_replay_frame(record, -1)``: the run's generated samples over the
real mode centres, D's decision surface and the mode count over training, at its last evaluation.

Usage: python book/make_explorer.py OUT_DIR [--seeds 0 1 2] [--dpi 60]
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from gan_l2_lib.plotting import plot_replay_frame  # noqa: E402
from gan_l2_lib.sweep import run_sweep, shipped_results_dir, shipped_sweeps  # noqa: E402

DATASETS = ("ring8", "grid25")


def image_name(dataset: str, i_g: int, i_d: int, seed: int) -> str:
    """The file of one cell: indices into the λ grids, so the JS needs no float formatting."""
    return f"{dataset}_g{i_g}_d{i_d}_s{seed}.webp"


def render(out: Path, seeds: tuple[int, ...], dpi: int) -> dict:
    """Write every picture and ``explorer.json`` into ``out``; return the index written."""
    out.mkdir(parents=True, exist_ok=True)
    index = {"datasets": {}}
    for dataset in DATASETS:
        result = run_sweep(shipped_sweeps()[dataset], shipped_results_dir(), progress=False,
                           train_missing=False)
        cfg = result.config
        missing = [s for s in seeds if s not in cfg.seeds]
        if missing:
            raise ValueError(f"seeds {missing} are not in the shipped {dataset} sweep (it has {cfg.seeds})")
        for i_g, lam_g in enumerate(cfg.lambda_g):
            for i_d, lam_d in enumerate(cfg.lambda_d):
                for seed in seeds:
                    fig = plot_replay_frame(result.record(lam_g, lam_d, seed), -1)
                    fig.suptitle(f"{dataset}  λ_G = {lam_g:g}  λ_D = {lam_d:g}  seed {seed}")
                    buf = io.BytesIO()
                    fig.savefig(buf, format="png", dpi=dpi)
                    plt.close(fig)
                    buf.seek(0)
                    Image.open(buf).save(out / image_name(dataset, i_g, i_d, seed), "WEBP", quality=80)
        index["datasets"][dataset] = {"lambda_g": list(cfg.lambda_g), "lambda_d": list(cfg.lambda_d),
                                      "seeds": list(seeds), "steps": cfg.base.steps}
    (out / "explorer.json").write_text(json.dumps(index, indent=1))
    (out / "explorer.js").write_text("window.EXPLORER_INDEX = " + json.dumps(index) + ";\n")
    return index


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dpi", type=int, default=60)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    render(args.out, tuple(args.seeds), args.dpi)
    files = list(args.out.glob("*.webp"))
    size = sum(f.stat().st_size for f in files)
    print(f"explorer: {len(files)} pictures, {size / 1e6:.2f} MB, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
