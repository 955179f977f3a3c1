#!/bin/bash
# Trains evidence sweeps one after another into pending_results/ (1 thread each).
cd /work/main
for name in "$@"; do
  echo "=== $name start $(date -u +%FT%TZ)"
  OMP_NUM_THREADS=1 PYTHONPATH=$PWD .venv/bin/python -m gan_l2_lib sweep --named "$name" --cache-dir pending_results --max-batch "${MAX_BATCH:-125}" --cpu --no-progress
  echo "=== $name end $(date -u +%FT%TZ) rc=$?"
done
