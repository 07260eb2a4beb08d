#!/usr/bin/env bash
# The methods study behind recipe=strong (README, "A network recipe"): the references and the
# network recipes (recipe=strong, and its first version with model=mlp's [64, 32]) on the 10
# datasets of experiment=benchmark (set A, where settings were chosen) and on 10 other KEEL
# sets (set B, to check them on), 5 folds each, threshold tuned on validation (threshold=oof
# for the recipe), then one table per set.
#   bash scripts/run_study.sh [OUT]        # OUT: default study/ ; ~30 min on 2 CPU cores
set -euo pipefail
out=$(realpath -m "${1:-study}")  # relative to where it is started
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
A="yeast4,yeast5,yeast6,abalone9_18,abalone_17_vs_7_8_9_10,page_blocks_1_3_vs_4,pc1,winequality_red_4,vowel0,flaref"
B="car_good,cm1,ecoli3,kr_vs_k_one_vs_fifteen,led7digit_0_2_4_5_6_7_8_9_vs_1,shuttle_c0_vs_c4,yeast3,yeast_0_5_6_7_9_vs_4,yeast_1_2_8_9_vs_7,yeast_2_vs_4"
for set in A B; do
  names=${!set}
  common="experiment=benchmark data.name=$names data.fold=0,1,2,3,4 strategy=none"
  while read -r name args; do
    # shellcheck disable=SC2086  # the overrides are words
    # A sweep with a failed run exits 1; the table says which runs failed, so go on.
    "$python" train.py -m $common $args "hydra.sweep.dir=$out/$set/$name" ||
      echo "run_study: some runs of $set/$name failed (see its leaderboard.md)" >&2
  done <<'METHODS'
refs model=hgb,lightgbm,brf,easy_ensemble,rusboost,balanced_bagging threshold=tuned
mlp model=mlp threshold=tuned
strong recipe=strong
strong_first recipe=strong model=mlp
deep_ensemble model=deep_ensemble threshold=tuned
METHODS
  "$python" scripts/study.py "$out/$set/refs" "$out/$set/mlp" "$out/$set/strong" \
    "$out/$set/strong_first" "$out/$set/deep_ensemble" --out "$out/$set"
done
echo "tables: $out/A/study.md (chosen on), $out/B/study.md (checked on)"
