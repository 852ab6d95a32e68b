#!/usr/bin/env bash
# GPU figures for BENCHMARKS.md, in a few minutes on one CUDA machine:
# throughput per precision (plain fp32 loop vs ganforge), and 2-process DDP with NCCL.
#   bash benchmarks/gpu.sh            (needs torch with CUDA and this repo installed)
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())"
for p in fp32 bf16 fp16; do
  python benchmarks/train_throughput.py --device cuda --models dcgan64,dcgan32 --precision "$p" \
    --channels-last --steps 50 --warmup 10 --repeats 3
done
n=$(python -c "import torch; print(torch.cuda.device_count())")
if [ "$n" -ge 2 ]; then
  out=$(mktemp -d)
  torchrun --standalone --nproc_per_node=2 -m ganforge train dcgan-mnist --steps 200 \
    --out "$out/ddp" --device cuda --no-progress --set eval.every=0
  tail -n 2 "$out/ddp/metrics.jsonl"
else
  echo "one GPU: skipping the NCCL data-parallel check"
fi
