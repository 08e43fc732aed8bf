#!/usr/bin/env bash
# Train the embedded model on a GPU machine lent by the device tool, from the repo root there:
#   run(command="bash generation/embedded/device_train.sh", carry=["var/device"], timeout_s=600)
# after `python -m generation.embedded.device_bundle build` here. It renders the data set with
# every core and encodes its captions with the slim MiniLM on the GPU, then trains each UNet
# variant in VARIANTS side by side on the one GPU (bf16 autocast) under a time budget, and
# leaves in $OUT run.log plus each run's folder (weights, training.json, train.log) as
# NAME.tar.partN; `python -m generation.embedded.device_bundle unpack <files_at> DIR --name NAME`
# joins one here. Knobs (environment): VARIANTS ("base p2"), MINUTES (5.5), BATCH (256),
# LR (0.001), NUM_IMAGES (120000), DEVICE (cuda; cpu for a dry run).
set -euo pipefail
: "${OUT:?set OUT to the folder whose files come back}"
BUNDLE=${BUNDLE:-var/device}
DATA=/tmp/train-data
exec > >(tee "$OUT/run.log") 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$BUNDLE"/whl/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no GPU"
python3 -c "import diffusers, torch; print('diffusers', diffusers.__version__, 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"
common=(--device "${DEVICE:-cuda}" --encoder "$BUNDLE/minilm" --num-images "${NUM_IMAGES:-120000}"
        --render-workers "$(nproc)" --data-dir "$DATA")
python3 -m generation.embedded.train "${common[@]}" --data-only
pids=()
for v in ${VARIANTS:-base p2}; do
  mkdir -p "/tmp/run-$v"
  python3 -m generation.embedded.train "${common[@]}" --variant "$v" \
    --batch-size "${BATCH:-256}" --lr "${LR:-0.001}" --warmup 500 --ema-decay 0.9995 \
    --steps "${STEPS:-200000}" --max-minutes "${MINUTES:-5.5}" \
    --out "/tmp/run-$v" --ckpt-dir "/tmp/ckpt-$v" > "/tmp/run-$v/train.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done  # (a bare `wait` would also wait for tee)
for v in ${VARIANTS:-base p2}; do
  echo "== $v"; tail -c 600 "/tmp/run-$v/train.log"; echo
  python3 -m generation.embedded.device_bundle pack "/tmp/run-$v" "$OUT" --name "$v"
done
exit $status
