#!/usr/bin/env bash
# Ship a training checkpoint and re-measure every figure of docs/RESULTS.md that depends on the NN weights.
#
#   bash benchmarks/reexport.sh /work/nn_runs/fp2/checkpoint.pt 12
#
# Stop the training first (it shares the 2 cores).  TAG names the results folders: runs/validate12.log,
# runs/level_map12, runs/rd_dev12 (NN on all 16 dev pictures, hybrid on the first 6), runs/rd_dev12_{jpeg,host}
# and runs/rd_dev12_h_{host,nn,jpeg} (the same points against other references), runs/jratio12.  Copy an
# earlier run's points.jsonl into runs/rd_dev12/ first to reuse its host and anchor points (NN and hybrid
# points are keyed by the model id, so they are coded again); without them it takes about 20 more
# minutes, and x265 needs ffmpeg (apt-get install -y ffmpeg).  About 25 minutes otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=$1
tag=$2
data=../shared/data/dev
levels=(0 1 2 3 4 5 6 7)
common=(--qp 22 27 32 37 --levels "${levels[@]}" --anchors jpeg,x265 --no-progress)
mkdir -p runs
python benchmarks/validate_checkpoint.py "$ckpt" --data $data > runs/validate$tag.log
python -m nntools.training.export "$ckpt" nntools/weights/hyperprior_4p.npz
python benchmarks/fit_level_map.py --data $data --crop 256 --out runs/level_map$tag --write
python -m hybridcodec rd $data --modes host,nn "${common[@]}" --jobs 2 --out runs/rd_dev$tag > runs/rd_dev${tag}_nn.log
for ref in jpeg host; do
  rm -rf runs/rd_dev${tag}_$ref && cp -r runs/rd_dev$tag runs/rd_dev${tag}_$ref
  python -m hybridcodec rd $data --modes host,nn "${common[@]}" --reference $ref --out runs/rd_dev${tag}_$ref > /dev/null
done
python -m hybridcodec rd $data --modes host,nn,hybrid "${common[@]}" --jobs 2 --limit 6 --out runs/rd_dev$tag > runs/rd_dev${tag}_h.log
for ref in host nn jpeg; do
  rm -rf runs/rd_dev${tag}_h_$ref && cp -r runs/rd_dev$tag runs/rd_dev${tag}_h_$ref
  python -m hybridcodec rd $data --modes host,nn,hybrid "${common[@]}" --limit 6 --reference $ref \
    --out runs/rd_dev${tag}_h_$ref > /dev/null
done
python benchmarks/nn_cost_ratio.py --data $data --crop 256 --qp 27 37 --out runs/jratio$tag > runs/jratio$tag.log
echo "done: BD-rates in runs/rd_dev${tag}_{jpeg,host}/summary.md and runs/rd_dev${tag}_h_*/summary.md"
