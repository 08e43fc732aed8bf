#!/usr/bin/env bash
# Train the embedded model on a GPU machine lent by the device tool, from the repo root there:
#   run(command="bash generation/embedded/device_train.sh", carry=["var/device"], timeout_s=600)
# after `python -m generation.embedded.device_bundle build` here. It renders the data set with
# every core, encodes the captions with the slim MiniLM on the GPU, trains under a time budget
# (bf16 autocast) and leaves in $OUT the UNet in parts, its config, training.json and the log;
# `python -m generation.embedded.device_bundle unpack <files_at> var/weights-gpu` joins them here.
# Knobs (environment): DEVICE (cuda; cpu for a dry run), MINUTES (training budget, 6), BATCH (256), LR (0.001), NUM_IMAGES (120000).
set -euo pipefail
: "${OUT:?set OUT to the folder whose files come back}"
BUNDLE=${BUNDLE:-var/device}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$BUNDLE"/whl/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no GPU") | tee "$OUT/gpu.txt"
python3 -c "import diffusers, torch; print('diffusers', diffusers.__version__, 'torch', torch.__version__, torch.cuda.is_available())"
python3 -m generation.embedded.train --device "${DEVICE:-cuda}" --encoder "$BUNDLE/minilm" \
  --num-images "${NUM_IMAGES:-120000}" --render-workers "$(nproc)" \
  --batch-size "${BATCH:-256}" --lr "${LR:-0.001}" --warmup 500 --ema-decay 0.9995 \
  --steps "${STEPS:-200000}" --max-minutes "${MINUTES:-6}" \
  --out /tmp/weights-gpu --data-dir /tmp/train-data --ckpt-dir /tmp/train-ckpt 2>&1 | tee "$OUT/train.log"
python3 -m generation.embedded.device_bundle pack /tmp/weights-gpu "$OUT"
