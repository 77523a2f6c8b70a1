#!/usr/bin/env bash
# CLI behaviour of `bcfeat run/report/list`: exit codes, nothing written on bad input,
# resume after SIGKILL with every run exactly once, parallel workers, determinism.
# usage: test_cli.sh BCFEAT WORKDIR
set -u
bcfeat=$1
work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)  # the repository
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
source "$root/tests/cli/common.sh"

small_sweep_config >small.yaml

# --- bad input: exit 2, one line on stderr, nothing written ---------------------------
printf 'experiment: quantize_baseline\nfeatures:\n  dimm: 3\n' >typo.yaml
expect_code 2 "unknown key exits 2" -- "$bcfeat" run typo.yaml --output bad_out
grep -q "typo.yaml:3: unknown key 'features.dimm' (did you mean 'features.dim'?)" err.txt \
  && pass "unknown key message names file, line and suggestion" || fail "unknown key message: $(cat err.txt)"
[ "$(wc -l <err.txt)" = 1 ] && pass "one line on stderr" || fail "stderr has $(wc -l <err.txt) lines"
[ ! -e bad_out ] && pass "nothing written on bad input" || fail "bad input wrote bad_out"
printf 'experiment: quantize_baseline\nfeatures: [1, 2\n' >syntax.yaml
expect_code 2 "YAML syntax error exits 2" -- "$bcfeat" run syntax.yaml --output bad_out
expect_code 2 "wrong type on the command line exits 2" -- "$bcfeat" run small.yaml features.dim=abc --output bad_out
expect_code 2 "bad sweep value exits 2" -- "$bcfeat" run small.yaml 'sweep.grid.compression.bits=[4,9]' --output bad_out
printf 'not a numpy file' >corrupt.npy
expect_code 2 "corrupt feature file exits 2" -- "$bcfeat" run small.yaml features.source=file features.path=corrupt.npy --output bad_out
grep -q "corrupt.npy' is not a .npy file" err.txt && pass "corrupt file named" || fail "corrupt file message: $(cat err.txt)"
expect_code 2 "missing feature file exits 2" -- "$bcfeat" run small.yaml features.source=file features.path=nope.npy --output bad_out
expect_code 2 "missing config exits 2" -- "$bcfeat" run nope.yaml
expect_code 2 "unknown command exits 2" -- "$bcfeat" rnu small.yaml
expect_code 2 "bad --jobs exits 2" -- "$bcfeat" run small.yaml --jobs zero
[ ! -e bad_out ] && pass "still nothing written" || fail "bad input wrote bad_out"

# --- dry run -----------------------------------------------------------------------------
expect_code 0 "dry run" -- "$bcfeat" run small.yaml --dry-run --output dry
grep -q "^6 runs" out.txt && pass "dry run lists 6 runs" || fail "dry run output: $(cat out.txt)"
[ ! -e dry ] && pass "dry run writes nothing" || fail "dry run wrote files"
# A cuda sweep plans on a machine without a GPU (a Slurm login node); running it there fails
# each run with one clear line.
expect_code 0 "dry run of a cuda sweep" -- "$bcfeat" run small.yaml compression.device=cuda --dry-run --output dry
if ! nvidia-smi >/dev/null 2>&1; then
  expect_code 1 "a cuda run without a GPU fails at run time" -- "$bcfeat" run small.yaml compression.device=cuda --output nogpu
  grep -l '"status": "failed"' nogpu/*/metrics.json | wc -l | grep -q '^6$' && grep -q "no CUDA device is usable" \
    nogpu/*/metrics.json && pass "each run failed naming the missing GPU" || fail "cuda runs without a GPU: $(cat nogpu/*/metrics.json | head -20)"
fi
expect_code 0 "command-line sweep axis" -- "$bcfeat" run small.yaml 'sweep.grid.compression.bits=[3,5]' --dry-run
grep -q "^4 runs" out.txt && pass "sweep axis from the command line" || fail "sweep override: $(cat out.txt)"

# --- a sweep, its files, report -------------------------------------------------------------
expect_code 0 "sequential sweep" -- "$bcfeat" run small.yaml --output seq
runs=$(ls -d seq/*/ | wc -l)
[ "$runs" = 6 ] && pass "6 run directories" || fail "$runs run directories"
for d in seq/*/; do
  for f in config.yaml metrics.json log.txt; do [ -s "$d$f" ] || fail "$d$f missing"; done
done
grep -q '"git_commit"' seq/*/metrics.json && grep -q '"wall_s"' seq/*/metrics.json \
  && pass "provenance recorded" || fail "provenance missing"
ls seq/*.tmp.* seq/*/*.tmp.* >/dev/null 2>&1 && fail "temporary files left" || pass "no temporary files"
expect_code 0 "report csv" -- "$bcfeat" report seq --columns compression.bits,compression.axis,bits_per_value --format csv
[ "$(head -1 out.txt)" = "compression.bits,compression.axis,bits_per_value" ] && [ "$(wc -l <out.txt)" = 7 ] \
  && pass "report csv shape" || fail "report csv: $(cat out.txt)"
expect_code 0 "CompressAI export" -- "$bcfeat" report seq --compressai cai.json --series compression.axis=channel
/usr/bin/python3 -c "
import json; d = json.load(open('cai.json')); r = d['results']
assert d['name'] == 'channel' and len(r['bpp']) == 3 and r['bpp'] == sorted(r['bpp']), d
assert len(r['psnr_db']) == 3 and len(r['mse']) == 3, r.keys()
" && pass "CompressAI results JSON" || fail "CompressAI export: $(cat cai.json)"
expect_code 2 "report with an unknown column" -- "$bcfeat" report seq --columns psnr
expect_code 0 "re-launch of a finished sweep" -- "$bcfeat" run small.yaml --output seq
grep -q "6 of 6 runs already complete" err.txt && pass "finished runs skipped" || fail "re-launch: $(cat err.txt)"

# --- plot ----------------------------------------------------------------------------------
plot=$root/tools/plot.py
expect_code 0 "plot.py draws the sweep" -- /usr/bin/python3 "$plot" seq/summary.json --x bits_per_value --y psnr_db \
  --series compression.method,compression.axis -o rd.png
[ "$(head -c 4 rd.png | tail -c 3)" = "PNG" ] && pass "plot is a PNG" || fail "plot output"
expect_code 1 "plot.py rejects an unknown column" -- /usr/bin/python3 "$plot" seq/summary.json --y nope -o x.png

# --- determinism: same config and seed, same metrics (timings aside) --------------------------
"$bcfeat" run small.yaml --output seq2 >/dev/null 2>&1
strip='del d["metrics"]["encode_ms"], d["metrics"]["decode_ms"], d["metrics"]["fit_ms"]'
same=1
for d in seq/*/; do
  id=$(basename "$d")
  a=$(/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $strip; print(json.dumps(d['metrics'],sort_keys=True))" "seq/$id/metrics.json")
  b=$(/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $strip; print(json.dumps(d['metrics'],sort_keys=True))" "seq2/$id/metrics.json")
  [ "$a" = "$b" ] || same=0
done
[ $same = 1 ] && pass "identical metrics on re-run" || fail "metrics differ between identical runs"

# --- rate_distortion: calibration split, shared codebooks counted once ----------------------
cat >rd.yaml <<'YAML'
experiment: rate_distortion
features: {batch: 3, tokens_hw: [8, 8], dim: 32, outlier_channels: 0}
split: {calibration_images: 1}
compression: {method: codebook, codebook: vector, codebook_size: 16, subvector: 4}
YAML
expect_code 0 "rate_distortion with a calibration split runs" -- "$bcfeat" run rd.yaml --output rd_out
/usr/bin/python3 -c "
import json, glob
m = json.load(open(glob.glob('rd_out/*/metrics.json')[0]))['metrics']
assert m['shape'] == [2, 64, 32], m['shape']                  # images 1-2 evaluated
assert m['shared_bytes'] == 16 * 4 * 2, m['shared_bytes']      # one fp16 codebook
assert m['bytes'] == 16 * 4 * 2 + 2 * 64 * 8 * 4 // 8, m['bytes']  # + 4-bit indices
assert abs(m['bits_per_value'] - 8 * m['bytes'] / (2 * 64 * 32)) < 1e-12
" && pass "shared codebook counted once, evaluation split measured" || fail "rate_distortion metrics: $(cat rd_out/*/metrics.json)"
printf 'experiment: rate_distortion\nfeatures: {batch: 2}\nsplit: {calibration_images: 2}\n' >nosplit.yaml
expect_code 2 "a split with no evaluation images exits 2" -- "$bcfeat" run nosplit.yaml --output bad_out
grep -q "leaves no evaluation images" err.txt && pass "split error names the problem" || fail "split error: $(cat err.txt)"

# --- dataset: shapes_vqa scenes for inspection ---------------------------------------------
expect_code 0 "dataset shapes_vqa writes scenes" -- "$bcfeat" dataset shapes_vqa --split val --count 3 --image-size 64 --output vqa
[ "$(head -c 4 vqa/val_000002.png | tail -c 3)" = "PNG" ] && [ "$(wc -l <vqa/val.jsonl)" = 3 ] \
  && pass "PNG images and one JSON line per scene" || fail "dataset output: $(ls vqa)"
/usr/bin/python3 -c "
import json
from PIL import Image
for line in open('vqa/val.jsonl'):
    d = json.loads(line)
    assert Image.open('vqa/' + d['image']).size == (64, 64)
    assert d['questions'] and all(q['answer'] for q in d['questions'])
" && pass "images open in Pillow at the asked size" || fail "dataset images"
expect_code 2 "dataset with an unknown split exits 2" -- "$bcfeat" dataset shapes_vqa --split dev --output vqa2
[ ! -e vqa2 ] && pass "nothing written for a bad split" || fail "bad split wrote vqa2"

# --- train / vqa_eval: tiny tinyvlm on shapes_vqa, resume after SIGKILL, accuracy under compression ----
export OPENBLAS_NUM_THREADS=1
cat >train.yaml <<'YAML'
experiment: train
data: {image_size: 32, min_objects: 2, max_objects: 3}
model: {patch: 8, width: 32, depth: 2, heads: 2, text_depth: 1}
train: {scenes: 200, questions_per_scene: 4, epochs: 3, batch: 8, lr: 0.003, warmup_steps: 5, device: cpu}
val: {scenes: 50}
YAML
expect_code 0 "train runs to the end" -- "$bcfeat" run train.yaml --output tr_full
"$bcfeat" run train.yaml --output tr_kill >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  grep -q "epoch 1/3" tr_kill/*/log.txt 2>/dev/null && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
expect_code 0 "train re-launched after SIGKILL" -- "$bcfeat" run train.yaml --output tr_kill
grep -q "resumed from" tr_kill/*/log.txt && pass "resumed from the checkpoint" || fail "no resume: $(cat tr_kill/*/log.txt)"
/usr/bin/python3 -c "
import json, glob
a = json.load(open(glob.glob('tr_full/*/metrics.json')[0]))['metrics']
b = json.load(open(glob.glob('tr_kill/*/metrics.json')[0]))['metrics']
assert a['epochs'] == [1, 2, 3] and b['epochs'] == [1, 2, 3], (a['epochs'], b['epochs'])
assert a['val_accuracy_curve'] == b['val_accuracy_curve'] and a['train_loss_curve'] == b['train_loss_curve'], (a, b)
" && pass "resumed training equals uninterrupted training" || fail "resume changed the curves"
model_file=$(ls -d "$PWD"/tr_full/*/)model.pt
checkpoint=$(ls -d "$PWD"/tr_full/*/)checkpoint.pt
cat >eval.yaml <<YAML
experiment: vqa_eval
model_file: $model_file
eval: {scenes: 60, questions_per_scene: 4, device: cpu, bootstrap: 200}
taps: [1, last]
sweep:
  runs:
    - {compression.method: fp16}
    - {compression.method: int, compression.bits: 2, compression.group_size: 32}
    - {compression.method: codebook, compression.codebook: pq, compression.codebook_size: 16, compression.subvector: 8, eval.calibration_scenes: 40}
YAML
expect_code 0 "vqa_eval runs" -- "$bcfeat" run eval.yaml --output ev
/usr/bin/python3 -c "
import json
rows = {r['compression.method']: r for r in json.load(open('ev/summary.json'))}
f, i, c = rows['fp16'], rows['int'], rows['codebook']
assert f['vqa_accuracy'] == f['vqa_accuracy_uncompressed'] == i['vqa_accuracy_uncompressed'], (f, i)
assert f['bits_per_value'] == 16 and abs(i['bits_per_value'] - (2 + 32 / 32)) < 1e-9, i['bits_per_value']
lo, hi = i['vqa_accuracy_drop_ci95']
assert lo <= i['vqa_accuracy_drop'] <= hi, i
assert any(k.startswith('accuracy_') for k in i), sorted(i)
# memory: 2 taps x 16 tokens x 32 channels per image; fp16 = 2 bytes each, int2 g32 = 3 bits each
assert f['feature_fp16_bytes_per_image'] == 2 * 2 * 16 * 32 == f['feature_bytes_per_image'], f
assert abs(i['feature_bytes_per_image'] - 2 * 16 * 32 * 3 / 8) < 1e-9, i['feature_bytes_per_image']
# a codebook fitted on train scenes is shared: 4 sub-spaces x 16 entries x 8 dims in fp16, counted once
assert c['shared_bytes'] == 4 * 16 * 8 * 2, c['shared_bytes']
values = 60 * 2 * 16 * 32
assert abs(c['bits_per_value'] - 8 * (c['feature_bytes_per_image'] * 60 + c['shared_bytes']) / values) < 1e-9, c
" && pass "vqa_eval: fp16 changes nothing, int2 rate counted, shared codebook counted once, drop inside its interval" || fail "vqa_eval metrics: $(cat ev/summary.json)"
expect_code 0 "probe positions runs on the tiny model" -- "$bcfeat" probe positions "$model_file" --scenes 40 --output probe.json
/usr/bin/python3 -c "
import json, math
p = json.load(open('probe.json'))
assert p['probe'] == 'positions' and p['scenes'] == 40 and p['objects'] >= 2 * 40, p
assert [l['tokens'] for l in p['layers']] == ['block 1', 'block 2'], p['layers']
for l in p['layers']:
    assert all(math.isfinite(l[k]) for k in ('r2_x', 'r2_y', 'rmse_x_px', 'rmse_y_px')), l
    assert l['r2_x'] <= 1 and l['r2_y'] <= 1 and 0 < l['rmse_x_px'] < 32 and 0 < l['rmse_y_px'] < 32, l
" && pass "probe positions: one fit per ViT block, R2 <= 1, RMSE inside the image" || fail "probe output: $(cat probe.json)"
expect_code 2 "probe: unknown probe" -- "$bcfeat" probe sizes "$model_file"
expect_code 2 "probe: missing model file" -- "$bcfeat" probe positions nowhere.pt
expect_code 2 "probe: not a model file" -- "$bcfeat" probe positions eval.yaml
sed "s#model_file: .*#model_file: $checkpoint#" eval.yaml | grep -v codebook >eval_ckpt.yaml
expect_code 0 "vqa_eval reads the training checkpoint too" -- "$bcfeat" run eval_ckpt.yaml --output ev_ckpt
/usr/bin/python3 -c "
import json
a = {r['compression.method']: r for r in json.load(open('ev/summary.json'))}['fp16']
b = {r['compression.method']: r for r in json.load(open('ev_ckpt/summary.json'))}['fp16']
# model.pt holds fp16 weights: answers may move by a question or two, no more
assert abs(a['vqa_accuracy_uncompressed'] - b['vqa_accuracy_uncompressed']) <= 100 * 2 / a['questions'], (a, b)
" && pass "fp16 weights file answers like the fp32 checkpoint" || fail "model.pt vs checkpoint.pt"
printf 'experiment: vqa_eval\nmodel_file: missing.pt\n' >noeval.yaml
expect_code 2 "vqa_eval without a model file exits 2" -- "$bcfeat" run noeval.yaml --output bad_out
printf 'experiment: vqa_eval\nmodel_file: %s\ntaps: [7]\n' "$model_file" >badtap.yaml
expect_code 2 "vqa_eval with a tap beyond the model's depth exits 2" -- "$bcfeat" run badtap.yaml --output bad_out
head -c 3000 "$model_file" >truncated.pt
printf 'experiment: vqa_eval\nmodel_file: truncated.pt\n' >trunc.yaml
expect_code 2 "vqa_eval with a truncated model file exits 2" -- "$bcfeat" run trunc.yaml --output bad_out
[ ! -e bad_out ] && pass "nothing written for bad eval configs" || fail "bad eval config wrote bad_out"

# per-tap compressors and tiered allocation
cat >pertap.yaml <<YAML
experiment: vqa_eval
model_file: $model_file
eval: {scenes: 60, questions_per_scene: 4, device: cpu, bootstrap: 200}
taps: {1: fp16, last: {method: int, bits: 4, group_size: 32}}
sweep:
  runs:
    - {}
    - {taps.1: bc1}
YAML
expect_code 0 "vqa_eval with a compressor per tap runs" -- "$bcfeat" run pertap.yaml --output pt
/usr/bin/python3 -c "
import json
rows = json.load(open('pt/summary.json'))
for r in rows:
    assert r['per_tap.1.bytes'] + r['per_tap.2.bytes'] == r['bytes'], r
assert rows[0]['per_tap.1.bits_per_value'] == 16 and rows[0]['per_tap.1.compressor'] == 'fp16', rows[0]
assert abs(rows[0]['per_tap.2.bits_per_value'] - (4 + 32 / 32)) < 1e-9, rows[0]
assert rows[1]['per_tap.1.compressor'] == 'texture bc1' and rows[1]['per_tap.1.bits_per_value'] < 2, rows[1]
" && pass "per-tap bytes add up to the total; each tap by its own compressor" || fail "per-tap metrics: $(cat pt/summary.json)"
for bad in "taps={9: bc1}" "taps={last: {formt: bc1}}" "taps={1: bc9}" "taps={2: fp16, last: bc1}"; do
  expect_code 2 "vqa_eval with $bad exits 2" -- "$bcfeat" run pertap.yaml "$bad" --output bad_out
  grep -q "taps" err.txt && pass "the error names the tap" || fail "tap error: $(cat err.txt)"
done
cat >alloc.yaml <<YAML
experiment: vqa_eval
model_file: $model_file
eval: {scenes: 60, questions_per_scene: 4, batch: 16, device: cpu, bootstrap: 200}
compression: {method: texture, quality: fast}
taps: [last]
allocation: {tiers: [fp16, bc1, prune], target_bits_per_value: 2.0, unit: token}
sweep:
  grid:
    allocation.importance: [query, gradient, attention, norm, random, uniform]
YAML
expect_code 0 "vqa_eval with tiered allocation runs every scorer" -- "$bcfeat" run alloc.yaml --output al
/usr/bin/python3 -c "
import json
rows = json.load(open('al/summary.json'))
assert len(rows) == 6, rows
for r in rows:
    assert 0.99 * 2.0 <= r['bits_per_value'] <= 2.0, r
" && pass "rate control meets 2 bits/value within 1% for every scorer" || fail "allocation rates: $(cat al/summary.json)"
expect_code 2 "allocation over two taps exits 2" -- "$bcfeat" run alloc.yaml "taps=[1, last]" --output bad_out
expect_code 2 "allocation with an unknown tier exits 2" -- "$bcfeat" run alloc.yaml "allocation.tiers=[fp16, bc9]" --output bad_out
expect_code 2 "allocation fractions that do not add up exit 2" -- "$bcfeat" run alloc.yaml "allocation.target_bits_per_value=0" "allocation.fractions=[0.5, 0.2, 0.2]" --output bad_out
[ ! -e bad_out ] && pass "nothing written for bad tap or allocation configs" || fail "bad tap config wrote bad_out"

# clip: a tiny contrastive model, then recall and alignment under compression
cat >clip.yaml <<'YAML'
experiment: train
data: {image_size: 32, min_objects: 2, max_objects: 3}
model: {kind: clip, patch: 8, width: 32, depth: 2, heads: 2, text_depth: 1, embed: 16}
train: {scenes: 200, epochs: 2, batch: 16, lr: 0.002, warmup_steps: 5, device: cpu}
val: {scenes: 50}
YAML
expect_code 0 "clip trains" -- "$bcfeat" run clip.yaml --output clip_tr
clip_file=$(ls -d "$PWD"/clip_tr/*/)model.pt
cat >clip_eval.yaml <<YAML
experiment: clip_eval
model_file: $clip_file
eval: {scenes: 50, device: cpu, bootstrap: 200}
sweep:
  runs:
    - {compression.method: fp16}
    - {compression.method: int, compression.bits: 2, compression.group_size: 32}
YAML
expect_code 0 "clip_eval runs" -- "$bcfeat" run clip_eval.yaml --output clip_ev
expect_code 0 "clip_eval prunes tokens by the pooling query's attention" -- "$bcfeat" run clip_eval.yaml "sweep.runs=[{compression.method: fp16}]" "allocation={importance: attention, tiers: [fp16, prune], target_bits_per_value: 4, unit: token}" --output clip_al
/usr/bin/python3 -c "
import json
r = json.load(open('clip_al/summary.json'))[0]
assert 0.99 * 4 <= r['bits_per_value'] <= 4 and 0 <= r['recall_i2t_1'] <= 100, r
" && pass "clip_eval with allocation meets its rate" || fail "clip allocation: $(cat clip_al/summary.json)"
expect_code 2 "clip_eval with query importance exits 2" -- "$bcfeat" run clip_eval.yaml "allocation={importance: query, tiers: [fp16, prune], target_bits_per_value: 4}" --output bad_clip
/usr/bin/python3 -c "
import json
rows = {r['compression.method']: r for r in json.load(open('clip_ev/summary.json'))}
f, i = rows['fp16'], rows['int']
for r in (f, i):
    for k in ('recall_i2t_1', 'recall_i2t_5', 'recall_t2i_1', 'recall_t2i_5'):
        assert 0 <= r[k] <= 100 and r[k + '_uncompressed'] == f[k + '_uncompressed'], (k, r)
    assert r['recall_i2t_1'] <= r['recall_i2t_5'] and r['recall_t2i_1'] <= r['recall_t2i_5'], r
    lo, hi = r['recall_i2t_1_drop_ci95']
    assert lo <= r['recall_i2t_1_drop'] <= hi, r
assert abs(f['alignment'] - 1) < 1e-3 and f['embedding_cosine'] > 0.9999, f
assert i['embedding_cosine'] < f['embedding_cosine'], (i, f)
assert abs(i['bits_per_value'] - 3) < 1e-9, i['bits_per_value']
" && pass "clip_eval: recall@1 <= recall@5, fp16 keeps alignment, int2 rate counted" || fail "clip_eval metrics: $(cat clip_ev/summary.json)"
sed "s#model_file: .*#model_file: $model_file#" clip_eval.yaml >clip_wrong.yaml
expect_code 2 "clip_eval on a tinyvlm model exits 2" -- "$bcfeat" run clip_wrong.yaml --output bad_out

# --- compress_train: codebooks trained through the real codec on the reference models ---------
# (the tiny models above barely look at their images; the reference ones do)
cat >ct.yaml <<YAML
experiment: compress_train
model_file: $root/results/reference/models/tinyvlm.pt
compression: {method: codebook, codebook: pq, codebook_size: 16, subvector: 32}
train_compression: {loss: task, steps: 20, batch: 16, scenes: 64}
eval: {scenes: 40, calibration_scenes: 32, batch: 20, device: cpu, bootstrap: 200}
YAML
expect_code 0 "compress_train with the task loss runs" -- "$bcfeat" run ct.yaml --output ct_task
state=$(ls -d "$PWD"/ct_task/*/)compressor_state.bin
cat >ct_eval.yaml <<YAML
experiment: vqa_eval
model_file: $root/results/reference/models/tinyvlm.pt
compression: {method: codebook, codebook: pq, codebook_size: 16, subvector: 32, state: $state}
eval: {scenes: 40, batch: 20, device: cpu, bootstrap: 200}
YAML
expect_code 0 "vqa_eval reads the trained state file" -- "$bcfeat" run ct_eval.yaml --output ct_ev
/usr/bin/python3 -c "
import json
t = json.load(open('ct_task/summary.json'))[0]
e = json.load(open('ct_ev/summary.json'))[0]
assert t['heldout_loss'] < t['heldout_loss_init'], (t['heldout_loss'], t['heldout_loss_init'])
assert t['train_loss_task_last'] < t['train_loss_task_first'], t
assert e['vqa_accuracy'] == t['vqa_accuracy'] and e['bits_per_value'] == t['bits_per_value'], (e, t)
assert e['shared_bytes'] == 16 * 192 * 2 == t['shared_bytes'], (e['shared_bytes'], t['shared_bytes'])
lo, hi = t['vqa_accuracy_gain_ci95']
assert lo <= t['vqa_accuracy_gain'] <= hi, t
" && pass "the task loss lowers the held-out VQA loss below the MSE fit's; vqa_eval with the state file answers the same" \
  || fail "compress_train task: $(cat ct_task/summary.json) / $(cat ct_ev/summary.json)"
expect_code 0 "cache build with a trained state" -- "$bcfeat" cache build ct_eval.yaml eval.compress_per=image "features.cache=$PWD/ct.bcfc"
expect_code 0 "vqa_eval from the trained cache" -- "$bcfeat" run ct_eval.yaml eval.compress_per=image "features.cache=$PWD/ct.bcfc" --output ct_cache
expect_code 0 "vqa_eval with the trained state per image" -- "$bcfeat" run ct_eval.yaml eval.compress_per=image --output ct_fly
/usr/bin/python3 -c "
import json
a = json.load(open('ct_cache/summary.json'))[0]
b = json.load(open('ct_fly/summary.json'))[0]
assert a['vqa_accuracy'] == b['vqa_accuracy'] and a['bits_per_value'] == b['bits_per_value'], (a, b)
assert a['shared_bytes'] == b['shared_bytes'] == 16 * 192 * 2, (a['shared_bytes'], b['shared_bytes'])
" && pass "a cache built with the trained state evaluates as the state does on the fly" || fail "trained cache: $(cat ct_cache/summary.json)"
expect_code 2 "a trained cache under a config without its state exits 2" -- "$bcfeat" run ct_eval.yaml eval.compress_per=image "compression.state=" "features.cache=$PWD/ct.bcfc" --output bad_out
expect_code 0 "compress_train trains a texture's value maps" -- "$bcfeat" run ct.yaml "compression={method: texture, format: bc1, scope: per_dataset}" train_compression.steps=8 --output ct_tex
tex_state=$(ls -d "$PWD"/ct_tex/*/)compressor_state.bin
expect_code 0 "vqa_eval reads the texture's trained maps" -- "$bcfeat" run ct_eval.yaml "compression={method: texture, format: bc1, scope: per_dataset, state: $tex_state}" --output ct_tex_ev
/usr/bin/python3 -c "
import json
t = json.load(open('ct_tex/summary.json'))[0]
e = json.load(open('ct_tex_ev/summary.json'))[0]
assert e['vqa_accuracy'] == t['vqa_accuracy'] and e['bits_per_value'] == t['bits_per_value'], (e, t)
assert e['shared_bytes'] == 192 * 2 * 2 == t['shared_bytes'], (e['shared_bytes'], t['shared_bytes'])
" && pass "texture value maps: the state file evaluates to compress_train's numbers" || fail "compress_train texture: $(cat ct_tex/summary.json) / $(cat ct_tex_ev/summary.json)"
expect_code 2 "compress_train: a texture without shared maps exits 2" -- "$bcfeat" run ct.yaml "compression={method: texture, format: bc1}" --output bad_out
cat >ct_clip.yaml <<YAML
experiment: compress_train
model_file: $root/results/reference/models/clip.pt
compression: {method: codebook, codebook: pq, codebook_size: 16, subvector: 32}
train_compression: {loss: alignment + 0.5*cosine, steps: 20, batch: 32, scenes: 96, lr: 0.01}
eval: {scenes: 60, calibration_scenes: 32, batch: 30, device: cpu, bootstrap: 200}
YAML
expect_code 0 "compress_train with the alignment loss runs" -- "$bcfeat" run ct_clip.yaml --output ct_clip
/usr/bin/python3 -c "
import json
t = json.load(open('ct_clip/summary.json'))[0]
assert t['heldout_loss'] < t['heldout_loss_init'], (t['heldout_loss'], t['heldout_loss_init'])
assert 0 <= t['alignment_accuracy'] <= 100 and 0 <= t['alignment_accuracy_init'] <= 100, t
assert t['embedding_cosine'] > t['embedding_cosine_init'], t
" && pass "the alignment loss lowers the held-out InfoNCE and brings the embeddings closer" \
  || fail "compress_train clip: $(cat ct_clip/summary.json)"
expect_code 2 "compress_train: a clip loss on a tinyvlm model exits 2" -- "$bcfeat" run ct.yaml "train_compression.loss=alignment" --output bad_out
expect_code 2 "compress_train: an unknown loss exits 2" -- "$bcfeat" run ct.yaml "train_compression.loss=task + 0.1*mes" --output bad_out
expect_code 2 "compress_train: a compressor with nothing to train exits 2" -- "$bcfeat" run ct.yaml compression.method=int --output bad_out
expect_code 2 "vqa_eval: a state file of other stream keys exits 2" -- "$bcfeat" run ct_eval.yaml compression.codebook_size=32 --output bad_out
expect_code 2 "vqa_eval: a state file with calibration scenes exits 2" -- "$bcfeat" run ct_eval.yaml eval.calibration_scenes=10 --output bad_out
head -c 100 "$state" >cut_state.bin
expect_code 2 "vqa_eval: a cut state file exits 2" -- "$bcfeat" run ct_eval.yaml "compression.state=$PWD/cut_state.bin" --output bad_out
expect_code 2 "vqa_eval: a missing state file exits 2" -- "$bcfeat" run ct_eval.yaml "compression.state=$PWD/none.bin" --output bad_out
[ ! -e bad_out ] && pass "nothing written for bad compress_train or state configs" || fail "a bad compress_train config wrote bad_out"

# --- feature caches: build, an independent read of the file, evaluation from the cache equals
# compressing each image on the fly, damaged and mismatched caches exit 2, resume ------------
cat >cache_eval.yaml <<YAML
experiment: vqa_eval
model_file: $model_file
eval: {scenes: 60, questions_per_scene: 4, device: cpu, bootstrap: 200, compress_per: image}
taps: [1]
compression: {method: texture, format: bc4_snorm}
features: {cache: $PWD/bc4.bcfc}
YAML
expect_code 2 "vqa_eval with a cache not built yet exits 2" -- "$bcfeat" run cache_eval.yaml --output bad_out
grep -q "bcfeat cache build" err.txt && pass "the message says how to build it" || fail "missing cache message: $(cat err.txt)"
expect_code 0 "cache build" -- "$bcfeat" cache build cache_eval.yaml
expect_code 0 "cache info" -- "$bcfeat" cache info bc4.bcfc
grep -q "records        60" out.txt && pass "cache info counts the records" || fail "cache info: $(cat out.txt)"
# The layout read by Python with zlib's CRC-32: header, description, index, every record.
cat >read_cache.py <<'PY'
import json, struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
magic, version, flags, text, shared, records, index = struct.unpack_from('<8sIIQQQQ', data, 0)
assert magic == b'BCFCACHE' and version == 1 and flags == 1, (magic, version, flags)
assert index + 8 * records == len(data), (index, records, len(data))
description = json.loads(data[64:64 + text])
offsets = struct.unpack_from('<%dQ' % records, data, index)
stream_bytes = 0
for i, at in enumerate(offsets):
    image, side, length = struct.unpack_from('<QQQ', data, at)
    assert image == i and side <= length, (i, image, side, length)
    (crc,) = struct.unpack_from('<I', data, at + 24 + length)
    assert crc == zlib.crc32(data[at:at + 24 + length]), ('crc', i)
    end = offsets[i + 1] if i + 1 < records else index
    assert at + 24 + length + 4 == end, ('gap', i)
    stream_bytes += length
print(json.dumps({'records': records, 'description': description, 'shared': shared, 'stream_bytes': stream_bytes}))
PY
/usr/bin/python3 read_cache.py bc4.bcfc >cache_read.json && /usr/bin/python3 -c "
import json
r = json.load(open('cache_read.json'))
d = r['description']
assert r['records'] == 60 and r['shared'] == 0, r
assert d['tap'] == 1 and d['shape'] == [1, 16, 32] and d['split'] == 'test', d
assert d['compression']['method'] == 'texture' and d['compression']['format'] == 'bc4_snorm', d
assert 'device' not in d['compression'] and 'bits' not in d['compression'], d['compression']
" && pass "an independent reader finds 60 records whose CRC-32s match zlib's" || fail "cache layout: $(cat cache_read.json)"
# Evaluations from caches equal compressing each image on the fly: per-tensor maps, maps and a
# codebook fitted on calibration scenes (the cache's shared state), and clip_eval.
same_as_on_the_fly() {  # same_as_on_the_fly NAME CONFIG OVERRIDES...
  local name=$1 config=$2
  shift 2
  expect_code 0 "$name: cache build" -- "$bcfeat" cache build "$config" "$@" "features.cache=$PWD/$name.bcfc"
  expect_code 0 "$name: evaluation from the cache" -- "$bcfeat" run "$config" "$@" "features.cache=$PWD/$name.bcfc" --output "ev_$name"
  expect_code 0 "$name: on the fly" -- "$bcfeat" run "$config" "$@" "features.cache=" --output "fly_$name"
  /usr/bin/python3 -c "
import json, os, sys
a = json.load(open('ev_$name/summary.json'))[0]
b = json.load(open('fly_$name/summary.json'))[0]
timing = ('_ms', 'wall_s', 'run_id', 'features.cache', 'cache_')
keys = [k for k in set(a) | set(b) if not any(t in k for t in timing)]
differ = [(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)]
assert a['status'] == 'ok' and not differ, differ
assert a['cache_bytes'] == os.path.getsize('$name.bcfc'), a
assert a['cache_fp16_bytes'] == 2 * a['scenes'] * 16 * 32 and a['cache_serve_ms_per_batch'] > 0, a
assert a['encode_ms'] == 0 and 'transfer_ms' in a and 'transfer_ms' not in b, (a, b)
" && pass "$name: the cache gives the on-the-fly metrics" || fail "$name: cache vs on the fly differ"
}
same_as_on_the_fly bc4 cache_eval.yaml
same_as_on_the_fly bc7_shared cache_eval.yaml compression.format=bc7 compression.scope=per_dataset \
  compression.value_map=per_channel eval.calibration_scenes=40
same_as_on_the_fly pq cache_eval.yaml compression.method=codebook compression.codebook=pq compression.codebook_size=16 \
  compression.subvector=8 eval.calibration_scenes=40
/usr/bin/python3 read_cache.py pq.bcfc | /usr/bin/python3 -c "
import json, sys
assert json.load(sys.stdin)['shared'] == 4 * 16 * 8 * 2
" && pass "a fitted codebook is stored once in the cache" || fail "codebook shared state in the cache"
sed -e "s#model_file: .*#model_file: $clip_file#" -e "s#, questions_per_scene: 4##" cache_eval.yaml >cache_clip.yaml
sed -i "s#experiment: vqa_eval#experiment: clip_eval#" cache_clip.yaml
same_as_on_the_fly clip cache_clip.yaml
# Damaged or mismatched caches: exit 2, one line naming the file and the reason.
cp bc4.bcfc damaged.bcfc
/usr/bin/python3 -c "
import struct
data = bytearray(open('damaged.bcfc', 'rb').read())
_, _, _, _, _, records, index = struct.unpack_from('<8sIIQQQQ', data, 0)
(at,) = struct.unpack_from('<Q', data, index + 8 * 5)
data[at + 40] ^= 0x01
open('damaged.bcfc', 'wb').write(data)
"
expect_code 2 "a record with a bad CRC exits 2" -- "$bcfeat" run cache_eval.yaml "features.cache=$PWD/damaged.bcfc" --output bad_out
grep -q "damaged.bcfc'*: record 5: CRC" err.txt && [ "$(wc -l <err.txt)" = 1 ] \
  && pass "the message names the file and the record" || fail "bad CRC message: $(cat err.txt)"
head -c -5 bc4.bcfc >truncated.bcfc
expect_code 2 "a truncated cache exits 2" -- "$bcfeat" run cache_eval.yaml "features.cache=$PWD/truncated.bcfc" --output bad_out
grep -q "truncated" err.txt && pass "truncation named" || fail "truncation message: $(cat err.txt)"
expect_code 2 "a cache of another compressor exits 2" -- "$bcfeat" run cache_eval.yaml compression.format=bc1 --output bad_out
grep -q "built with compression" err.txt && pass "another compressor named" || fail "compressor mismatch: $(cat err.txt)"
expect_code 2 "a cache of another tap exits 2" -- "$bcfeat" run cache_eval.yaml "taps=[2]" --output bad_out
grep -q "built with tap = 1" err.txt && pass "another tap named" || fail "tap mismatch: $(cat err.txt)"
expect_code 2 "a cache of another model exits 2" -- "$bcfeat" run cache_eval.yaml "model_file=$checkpoint" --output bad_out
grep -q "another model file" err.txt && pass "another model named" || fail "model mismatch: $(cat err.txt)"
expect_code 2 "a cache with fewer images than eval.scenes exits 2" -- "$bcfeat" run cache_eval.yaml eval.scenes=61 --output bad_out
expect_code 2 "a cache needs compress_per image" -- "$bcfeat" run cache_eval.yaml eval.compress_per=batch --output bad_out
expect_code 2 "cache build of a sweep exits 2" -- "$bcfeat" cache build eval.yaml
expect_code 2 "cache build of an experiment without images exits 2" -- "$bcfeat" cache build small.yaml --output x.bcfc
expect_code 2 "cache info of a model file exits 2" -- "$bcfeat" cache info "$model_file"
[ ! -e bad_out ] && [ ! -e x.bcfc ] && pass "nothing written for bad caches" || fail "a bad cache run wrote output"
# A build killed in the middle of record 30 resumes there and ends with the same file.
/usr/bin/python3 -c "
import struct
data = open('bc4.bcfc', 'rb').read()
_, _, _, _, _, records, index = struct.unpack_from('<8sIIQQQQ', data, 0)
(at,) = struct.unpack_from('<Q', data, index + 8 * 30)
part = bytearray(data[:at + 20])
struct.pack_into('<I', part, 12, 0)
part[32:48] = bytes(16)
open('resumed.bcfc.building', 'wb').write(part)
"
expect_code 2 "an unfinished cache is not read" -- "$bcfeat" run cache_eval.yaml "features.cache=$PWD/resumed.bcfc" --output bad_out
expect_code 0 "cache build resumes" -- "$bcfeat" cache build cache_eval.yaml --output resumed.bcfc
grep -q "at image 30" out.txt && cmp -s resumed.bcfc bc4.bcfc && [ ! -e resumed.bcfc.building ] \
  && pass "resumed at image 30; the file equals an uninterrupted build" || fail "resume: $(cat out.txt)"
expect_code 0 "cache build of a complete cache does nothing" -- "$bcfeat" cache build cache_eval.yaml
grep -q "nothing to do" out.txt && pass "complete cache left alone" || fail "rebuild: $(cat out.txt)"
# --- latency: the stages of an inference pass per compressor (CPU fallback: host clock, fp32) --
cat >latency.yaml <<'YAML'
experiment: latency
latency: {device: cpu, repetitions: 4, warmup: 1}
features: {batch: 2, tokens_hw: [8, 8], dim: 64}
consumer: {width: 64, depth: 1, heads: 4, queries: 4}
sweep:
  runs:
    - {compression.method: fp16}
    - {compression.method: int, compression.bits: 4, compression.group_size: 32}
    - {compression.method: texture, compression.format: bc7}
YAML
expect_code 0 "latency at feature scale on the CPU" -- "$bcfeat" run latency.yaml --output lat
/usr/bin/python3 -c "
import json
rows = {r['compression.method']: r for r in json.load(open('lat/summary.json'))}
values = 2 * 64 * 64
for r in rows.values():
    assert r['status'] == 'ok' and r['timing'] == 'cpu (host clock)' and r['dtype'] == 'fp32', r
    for stage in ('transfer', 'decode', 'consumer', 'total'):
        assert 0 < r[stage + '_ms_median'] <= r[stage + '_ms_p90'], (stage, r)
    assert 'encoder_ms_median' not in r and 'peak_memory_bytes' not in r, r
    assert (r['batch'], r['tokens'], r['dim']) == (2, 64, 64), r
    assert r['feature_fp16_bytes_per_batch'] == 2 * values and r['decoded_bytes_per_batch'] == 4 * values, r
    assert abs(r['bits_per_value'] - 8 * r['feature_bytes_per_batch'] / values) < 1e-12, r
    assert abs(r['memory_saving'] - 2 * values / r['feature_bytes_per_batch']) < 1e-12, r
assert rows['fp16']['memory_saving'] == 1 and abs(rows['int']['bits_per_value'] - 5) < 1e-12, rows
assert rows['texture']['bits_per_value'] < 3, rows['texture']
" && pass "latency rows: every stage timed, bytes and savings counted" || fail "latency rows: $(cat lat/summary.json)"
cat >latency_vlm.yaml <<YAML
experiment: latency
model_file: $model_file
taps: [1]
latency: {scale: tinyvlm, device: cpu, repetitions: 3, warmup: 1, batch: 20}
eval: {scenes: 60, questions_per_scene: 4, bootstrap: 200}
compression: {method: texture, format: bc4_snorm}
sweep:
  grid: {latency.source: [cache, encoder]}
YAML
expect_code 0 "latency on the tinyvlm, from the cache and from the images" -- "$bcfeat" run latency_vlm.yaml --output lat_vlm
sed -e "s#^experiment: latency#experiment: vqa_eval#" -e "/^latency:/d" -e "/^sweep:/,\$d" \
  -e "s#^eval: {#eval: {device: cpu, batch: 20, #" latency_vlm.yaml >latency_vqa.yaml
expect_code 0 "the same compressor in vqa_eval" -- "$bcfeat" run latency_vqa.yaml --output lat_vqa
/usr/bin/python3 -c "
import json
rows = {r['latency.source']: r for r in json.load(open('lat_vlm/summary.json'))}
v = json.load(open('lat_vqa/summary.json'))[0]
for r in rows.values():
    assert r['status'] == 'ok' and (r['batch'], r['tokens'], r['dim']) == (20, 16, 32), r
    for k in ('vqa_accuracy', 'vqa_accuracy_uncompressed', 'vqa_accuracy_drop_ci95', 'questions'):
        assert r[k] == v[k], (k, r[k], v[k])
assert 'encoder_ms_median' in rows['encoder'] and 'encode_ms_median' in rows['encoder'], rows['encoder']
assert 'encoder_ms_median' not in rows['cache'], rows['cache']
" && pass "latency on the tinyvlm: stages per source, accuracy equal to vqa_eval's" || fail "latency tinyvlm: $(cat lat_vlm/summary.json)"
printf 'experiment: latency\nmodel_file: %s\nlatency: {scale: tinyvlm, device: cpu, repetitions: 2, warmup: 0, batch: 4}\n' "$clip_file" >latency_clip.yaml
expect_code 0 "latency on a clip model" -- "$bcfeat" run latency_clip.yaml --output lat_clip
expect_code 2 "latency: no encoder at feature scale" -- "$bcfeat" run latency.yaml latency.source=encoder --output bad_out
expect_code 2 "latency: accuracy needs a tinyvlm" -- "$bcfeat" run latency_clip.yaml eval.scenes=10 --output bad_out
expect_code 2 "latency: one tap" -- "$bcfeat" run latency_vlm.yaml "taps=[1, last]" --output bad_out
expect_code 2 "latency: consumer heads must divide its width" -- "$bcfeat" run latency.yaml consumer.heads=5 --output bad_out
[ ! -e bad_out ] && pass "nothing written for bad latency configs" || fail "a bad latency config wrote output"
unset OPENBLAS_NUM_THREADS

# --- every shipped config validates (model files, keys, values) -------------------------------
for config in "$root"/configs/*.yaml "$root"/configs/*/*.yaml; do
  [ -e "$config" ] || continue
  name=${config#"$root"/configs/}
  name=${name%.yaml}
  name=${name//\//_}
  # a config evaluating another config's output (not in a fresh clone) gets this test's tiny model
  override=()
  grep -q "^model_file: results/train_tiny" "$config" && override=("model_file=$model_file")
  (cd "$root" && "$bcfeat" run "$config" "${override[@]}" --dry-run --output "$work/dry_$name") >out.txt 2>err.txt
  code=$?
  [ "$code" = 0 ] && pass "${config#"$root"/} validates" || fail "${config#"$root"/}: exit $code: $(cat err.txt)"
done

# ... and every registered experiment has a shipped config that uses it
for experiment in $("$bcfeat" list experiments | awk '{print $1}'); do
  grep -qx "experiment: $experiment" "$root"/configs/*.yaml "$root"/configs/*/*.yaml 2>/dev/null \
    && pass "experiment $experiment has a config" || fail "no config in configs/ runs experiment $experiment"
done

# --- parallel workers, GPU assignment, a failing run ---------------------------------------
cat >mixed.yaml <<'YAML'
experiment: quantize_baseline
features: {batch: 1, tokens_hw: [8, 8], dim: 32, outlier_channels: 0}
sweep:
  runs:
    - {compression.method: fp16}
    - {compression.method: int, compression.bits: 4}
    - {compression.method: fp16, features.outlier_channels: 2, features.outlier_scale: 100000}
    - {compression.method: bf16}
YAML
expect_code 1 "a failing run gives exit 1" -- "$bcfeat" run mixed.yaml --output par --jobs 3 --gpus 0,1
ok_runs=$(grep -l '"status": "ok"' par/*/metrics.json | wc -l)
failed_runs=$(grep -l '"status": "failed"' par/*/metrics.json | wc -l)
[ "$ok_runs" = 3 ] && [ "$failed_runs" = 1 ] && pass "3 ok, 1 failed with --jobs 3" || fail "ok=$ok_runs failed=$failed_runs"
grep -q "exceeds the fp16 range" par/*/metrics.json && pass "failure recorded with its error" || fail "error not recorded"
/usr/bin/python3 -c "
import json; rows = json.load(open('par/summary.json'))
assert len(rows) == 4 and sorted(r['status'] for r in rows) == ['failed', 'ok', 'ok', 'ok'], rows
" && pass "summary.json lists every run" || fail "summary.json"

# --- SIGKILL mid-sweep, then re-launch: every run exactly once ----------------------------------
cat >slow.yaml <<'YAML'
experiment: quantize_baseline
features: {batch: 16, tokens_hw: [32, 32], dim: 256}
compression: {method: int, group_size: 32}
sweep:
  grid:
    compression.bits: [2, 3, 4, 5, 6, 7, 8]
    compression.axis: [token, channel]
YAML
"$bcfeat" run slow.yaml --output killed >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  n=$(ls killed/*/metrics.json 2>/dev/null | wc -l)
  [ "$n" -ge 3 ] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
before=$(ls killed/*/metrics.json 2>/dev/null | wc -l)
if [ "$before" -ge 3 ] && [ "$before" -lt 14 ]; then pass "killed after $before of 14 runs"; else fail "kill landed at $before runs"; fi
/usr/bin/python3 - <<'PY' || fail "a file was left corrupt after SIGKILL"
import json, glob
for path in glob.glob("killed/*/metrics.json") + ["killed/summary.json"]:
    json.load(open(path))
PY
declare -A stamp
for f in killed/*/metrics.json; do stamp[$f]=$(stat -c '%i %y' "$f"); done
expect_code 0 "re-launch after SIGKILL" -- "$bcfeat" run slow.yaml --output killed
after=$(grep -l '"status": "ok"' killed/*/metrics.json | wc -l)
[ "$after" = 14 ] && pass "all 14 runs complete" || fail "$after runs complete"
unchanged=1
for f in "${!stamp[@]}"; do [ "${stamp[$f]}" = "$(stat -c '%i %y' "$f")" ] || unchanged=0; done
[ $unchanged = 1 ] && pass "finished runs were not re-run" || fail "a finished run was re-run"
once=1
for log in killed/*/log.txt; do
  finished=$(grep -c "finished" "$log")
  [ "$finished" = 1 ] || once=0
done
[ $once = 1 ] && pass "every run finished exactly once" || fail "a run finished more than once"

# --- two sweeps on one output directory: the second refuses while the first runs -----------------
"$bcfeat" run slow.yaml --output shared >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ -n "$(ls shared/*/metrics.json 2>/dev/null)" ] && break
  sleep 0.05
done
if kill -0 $pid 2>/dev/null; then
  expect_code 2 "a second run on a busy output directory exits 2" -- "$bcfeat" run slow.yaml --output shared
  grep -q "output directory 'shared' is in use by another bcfeat run" err.txt && [ "$(wc -l <err.txt)" = 1 ] \
    && pass "it says the directory is in use, in one line" || fail "busy directory message: $(cat err.txt)"
else
  fail "the first sweep ended before the second started"
fi
wait $pid
expect_code 0 "the same run once the first has finished" -- "$bcfeat" run slow.yaml --output shared
grep -q "14 of 14 runs already complete" err.txt && pass "it finds every run complete" || fail "after the lock: $(cat err.txt)"
once=1
for log in shared/*/log.txt; do [ "$(grep -c finished "$log")" = 1 ] || once=0; done
[ $once = 1 ] && pass "no run was done twice" || fail "a run was done twice"

# --- Slurm array launcher (no sbatch here: run the array tasks by hand) -------------------------
expect_code 0 "slurm launcher prepares an array job" -- "$bcfeat" run small.yaml --output slurm_out --launcher slurm \
  --sbatch "--time=00:10:00 --gres=gpu:1" --jobs 2 --no-submit
script=slurm_out/slurm/array.sbatch
[ -x "$script" ] && [ "$(wc -l <slurm_out/slurm/runs.txt)" = 6 ] && grep -q "^#SBATCH --array=0-5%2" "$script" \
  && grep -q "^#SBATCH --gres=gpu:1" "$script" && pass "array script and run list" || fail "slurm files: $(cat "$script")"
"$bcfeat" report slurm_out --columns status --format csv | grep -c unfinished | grep -q 6 \
  && pass "report shows 6 unfinished runs" || fail "report before the array ran"
for i in 0 1 2 3 4 5; do SLURM_ARRAY_TASK_ID=$i bash "$script" >/dev/null 2>&1; done
[ "$("$bcfeat" report slurm_out --columns status --format csv | grep -c '^ok$')" = 6 ] \
  && pass "report collects the array tasks' results" || fail "report after the array: $("$bcfeat" report slurm_out)"
expect_code 2 "unknown launcher" -- "$bcfeat" run small.yaml --launcher slurn
grep -q "did you mean 'slurm'" err.txt && pass "launcher suggestion" || fail "launcher message: $(cat err.txt)"

# --- vqa_kv_eval: the reference tinyvlm answering from compressed visual K/V (CPU path) ---------
cat >kv.yaml <<YAML
experiment: vqa_kv_eval
model_file: $root/results/reference/models/tinyvlm.pt
eval: {scenes: 40, batch: 20, device: cpu, bootstrap: 200}
sweep:
  grid:
    kv.codec: [bc4_unorm, int8, bc7]
YAML
expect_code 0 "vqa_kv_eval over bc4, int8 and bc7 K/V" -- "$bcfeat" run kv.yaml --output kv_out
/usr/bin/python3 -c "
import json
rows = {r['kv.codec']: r for r in json.load(open('kv_out/summary.json'))}
# 196 tokens x 64 channels per (image, head), 4 fusion blocks x 3 heads; K and V alike in values.
n, d = 196, 64
bc4 = (2 * (n // 4) * (d // 4) * 8 + 4 * d + 4 * n) * 8 / (2 * n * d)   # blocks + per-channel + per-token maps
int8 = (2 * n * d + 4 * d * 4 + 4 * n) * 8 / (2 * n * d)               # codes + 4 key groups of 64 tokens + per-token maps
bc7 = (2 * (n // 4) * (d // 16) * 16 + 4 * d + 4 * n) * 8 / (2 * n * d)
for codec, expected in (('bc4_unorm', bc4), ('int8', int8), ('bc7', bc7)):
    r = rows[codec]
    assert abs(r['kv_bits_per_value'] - expected) < 1e-9, (codec, r['kv_bits_per_value'], expected)
    assert abs(r['kv_memory_ratio'] - 16 / expected) < 1e-9, r
    assert r['kv_fp16_bytes_per_image'] == 2 * 4 * 3 * 2 * n * d, r
    lo, hi = r['vqa_accuracy_drop_ci95']
    assert lo <= r['vqa_accuracy_drop'] <= hi, r
# int8 K/V change at most a few of the 320 answers
assert abs(rows['int8']['vqa_accuracy_drop']) <= 1.0, rows['int8']
" && pass "vqa_kv_eval counts every K/V byte and int8 K/V keep the answers" || fail "vqa_kv_eval: $(cat kv_out/summary.json)"
sed -e "/^sweep:/,\$d" kv.yaml >kv_one.yaml
expect_code 2 "an unknown kv.codec exits 2" -- "$bcfeat" run kv_one.yaml kv.codec=bc2 --output bad_out
grep -q "kv.codec" err.txt && pass "the unknown kv.codec is named" || fail "kv.codec error: $(cat err.txt)"
sed -e "s#models/tinyvlm.pt#models/clip.pt#" kv.yaml >kv_clip.yaml
expect_code 2 "vqa_kv_eval on a clip model exits 2" -- "$bcfeat" run kv_clip.yaml --output bad_out
grep -q "not a tinyvlm model" err.txt && pass "the clip model is refused with the reason" || fail "clip model: $(cat err.txt)"

# --- list --------------------------------------------------------------------------------------
expect_code 0 "list experiments" -- "$bcfeat" list experiments
grep -q quantize_baseline out.txt && pass "quantize_baseline listed" || fail "list experiments"
expect_code 0 "list compressors" -- "$bcfeat" list compressors
expect_code 0 "list formats" -- "$bcfeat" list formats
expect_code 2 "list unknown topic" -- "$bcfeat" list formts
grep -q "did you mean 'formats'" err.txt && pass "list suggests" || fail "list suggestion"

# --- codec ------------------------------------------------------------------------------------
/usr/bin/python3 - <<'PY'
import numpy as np
rng = np.random.default_rng(1)
np.save("img.npy", rng.random((13, 10, 3), dtype=np.float32))
np.save("signed.npy", (rng.random((8, 8, 2), dtype=np.float32) * 2 - 1))
bad = rng.random((8, 8, 1), dtype=np.float32); bad[3, 5, 0] = np.nan
np.save("nan.npy", bad)
np.save("big.npy", rng.random((8, 8, 1), dtype=np.float32) + 1.5)
yy, xx = np.mgrid[0:9, 0:11]
ramp = 4.0 * 2.0 ** ((xx + yy) / 4.0)  # 4 .. 256: 6 stops across the image, 1.5 per block
hdr = ramp[..., None] * np.array([1.0, 0.8, 0.5]) * (1 + 0.01 * rng.random((9, 11, 3)))
hdr = hdr.astype(np.float16)  # float16 input, a smooth HDR ramp with a colour cast
np.save("hdr.npy", hdr)
np.save("hdr_signed.npy", hdr.astype(np.float32) - 100.0)
np.save("huge.npy", np.full((4, 4, 3), 70000.0, np.float32))  # beyond the half range
PY
for f in bc1 bc2 bc3 bc4_unorm bc5_unorm bc7; do
  expect_code 0 "codec encode $f" -- "$bcfeat" codec encode img.npy "img_$f.dds" --format $f --quality normal
  expect_code 0 "codec decode $f" -- "$bcfeat" codec decode "img_$f.dds" "img_$f.npy"
done
"$bcfeat" codec encode img.npy p.dds --format bc1 | grep -q "padded to 12x16" && pass "padding reported" \
  || fail "padding not reported"
expect_code 0 "codec encode snorm" -- "$bcfeat" codec encode signed.npy s.dds --format bc5_snorm --quality high
expect_code 0 "codec encode bc6h_uf16 from float16" -- "$bcfeat" codec encode hdr.npy h.dds --format bc6h_uf16
expect_code 0 "codec decode bc6h_uf16" -- "$bcfeat" codec decode h.dds h.npy
/usr/bin/python3 -c "
import numpy as np, sys
a, b = np.load('hdr.npy').astype(np.float64), np.load('h.npy')
sys.exit(0 if b.shape == (9, 11, 3) and b.dtype == np.float32 and np.sqrt(np.mean((a - b) ** 2) / np.mean(a ** 2)) < 0.02 else 1)" \
  && pass "bc6h_uf16 round trip: 3 float32 channels, HDR values within 2% (RMS)" || fail "bc6h_uf16 round trip"
expect_code 2 "negative values rejected by bc6h_uf16" -- "$bcfeat" codec encode hdr_signed.npy x.dds --format bc6h_uf16
grep -q "range \[0, 65504\]" err.txt && pass "ufloat16 range named" || fail "bc6h_uf16 message: $(cat err.txt)"
expect_code 0 "codec encode bc6h_sf16 signed" -- "$bcfeat" codec encode hdr_signed.npy hs.dds --format bc6h_sf16
expect_code 2 "values beyond the half range rejected" -- "$bcfeat" codec encode huge.npy x.dds --format bc6h_sf16
expect_code 0 "codec info" -- "$bcfeat" codec info img_bc1.dds
grep -q "bits/texel" out.txt && grep -q "bc1" out.txt && pass "info lists format and rate" || fail "info: $(cat out.txt)"
expect_code 2 "NaN input rejected" -- "$bcfeat" codec encode nan.npy x.dds --format bc4_unorm
grep -q "nan at \[3, 5, 0\]" err.txt && pass "NaN position named" || fail "NaN message: $(cat err.txt)"
expect_code 2 "out-of-range input rejected" -- "$bcfeat" codec encode big.npy x.dds --format bc4_unorm
expect_code 0 "out-of-range input clamped" -- "$bcfeat" codec encode big.npy x.dds --format bc4_unorm --clamp
expect_code 2 "unknown format" -- "$bcfeat" codec encode img.npy x.dds --format bc9
grep -q "valid: bc1" err.txt && pass "formats listed" || fail "format message: $(cat err.txt)"
head -c 100 img_bc1.dds >trunc.dds
expect_code 2 "truncated DDS" -- "$bcfeat" codec decode trunc.dds t.npy
printf 'not a dds file at all, not at all, no' >junk.dds
expect_code 2 "not a DDS" -- "$bcfeat" codec info junk.dds
/usr/bin/python3 -c "
b = bytearray(open('img_bc1.dds', 'rb').read()); b[128] = 28; open('dxgi.dds', 'wb').write(b)"
expect_code 2 "unknown DXGI format" -- "$bcfeat" codec decode dxgi.dds d.npy
grep -q "DXGI format 28" err.txt && pass "DXGI code named" || fail "DXGI message: $(cat err.txt)"
/usr/bin/python3 -c "
b = bytearray(open('img_bc1.dds', 'rb').read()); b[84:88] = b'DX1\x8c'; open('fourcc.dds', 'wb').write(b)"
expect_code 2 "unknown FourCC" -- "$bcfeat" codec info fourcc.dds
grep -qF "unknown DDS FourCC 'DX1\x8c'" err.txt && pass "FourCC printed escaped" || fail "FourCC message: $(cat err.txt)"
[ ! -e t.npy ] && [ ! -e d.npy ] && pass "nothing written for bad files" || fail "bad DDS wrote output"
if "$bcfeat" list formats >/dev/null && ! nvidia-smi >/dev/null 2>&1; then
  expect_code 2 "--device cuda without a GPU" -- "$bcfeat" codec encode img.npy x.dds --format bc1 --device cuda
fi

# --- DDS headers as other writers make them -------------------------------------------------------
# From img_bc1.dds (DX10 header): resourceDimension and arraySize left at 0 (read, as a 2-D
# texture); a second mip level appended (the top level read, and said); an array of 2, a cube map
# and a volume (refused, one line each).
/usr/bin/python3 - <<'PY'
import struct
data = bytearray(open("img_bc1.dds", "rb").read())
def variant(name, edit):
    copy = bytearray(data)
    edit(copy)
    open(name, "wb").write(copy)
def zeroed(d):
    d[128 + 4:128 + 8] = bytes(4)   # resourceDimension
    d[128 + 12:128 + 16] = bytes(4)  # arraySize
variant("zeroed.dds", zeroed)
def mipmapped(d):
    d[28:32] = struct.pack("<I", 3)
    d[8:12] = struct.pack("<I", struct.unpack("<I", d[8:12])[0] | 0x20000)
    d.extend(bytes(8 * 2 + 8))  # 7x5 and 3x2 levels: 2 blocks and 1 block of BC1
variant("mips.dds", mipmapped)
variant("array.dds", lambda d: d.__setitem__(slice(128 + 12, 128 + 16), struct.pack("<I", 2)))
variant("cube.dds", lambda d: d.__setitem__(slice(128 + 8, 128 + 12), struct.pack("<I", 4)))
variant("volume.dds", lambda d: d.__setitem__(slice(112, 116), struct.pack("<I", 0x200000)))
PY
expect_code 0 "a DX10 header with resourceDimension and arraySize 0 is read" -- "$bcfeat" codec decode zeroed.dds zeroed.npy
expect_code 0 "a mipmapped .dds is read" -- "$bcfeat" codec decode mips.dds mips.npy
grep -q "the top of 3 mip levels" out.txt && pass "decode says it read the top of 3 mip levels" || fail "mips: $(cat out.txt)"
expect_code 0 "codec info of a mipmapped .dds" -- "$bcfeat" codec info mips.dds
grep -q "mip levels    3 (the top level is read)" out.txt && pass "info lists the mip levels" || fail "mips info: $(cat out.txt)"
/usr/bin/python3 -c "
import numpy as np, sys
a = np.load('img_bc1.npy')
sys.exit(0 if np.array_equal(a, np.load('zeroed.npy')) and np.array_equal(a, np.load('mips.npy')) else 1)" \
  && pass "both decode to the original file's texels" || fail "zeroed/mipmapped decode differs"
for v in array:"texture arrays (2 textures) are not supported" cube:"cube maps are not supported" \
         volume:"only 2-D textures are supported"; do
  expect_code 2 "a ${v%%:*} .dds is refused" -- "$bcfeat" codec decode "${v%%:*}.dds" x.npy
  grep -q "${v#*:}" err.txt && [ "$(wc -l <err.txt)" = 1 ] && pass "${v%%:*}: one line naming it" \
    || fail "${v%%:*}: $(cat err.txt)"
done

# --- codec: ASTC (libastcenc encodes; bcfeat decodes; the astcenc tool on the other side) ------
/usr/bin/python3 - <<'PY'
import numpy as np
from PIL import Image
rng = np.random.default_rng(2)
yy, xx = np.mgrid[0:45, 0:70]
rgb = np.stack([0.5 + 0.4 * np.sin(0.2 * xx + 0.1 * yy), 0.5 + 0.4 * np.cos(0.15 * yy), (xx * yy % 17) / 17.0], -1)
rgb = np.clip(rgb + 0.05 * rng.standard_normal(rgb.shape), 0, 1)
Image.fromarray((rgb * 255).round().astype(np.uint8)).save("pic.png")
smooth = np.stack([0.5 + 0.4 * np.sin(0.2 * xx + 0.1 * yy), 0.5 + 0.4 * np.cos(0.15 * yy), 0.3 + 0.2 * np.sin(0.05 * xx)], -1)
np.save("pic_hdr.npy", (300 * smooth ** 2).astype(np.float32))  # smooth HDR, 1.5 .. 243
PY
command -v astcenc >/dev/null && pass "astcenc tool present" || fail "astcenc tool missing (tools/setup.sh installs it)"
for q in "fast -fast" "normal -medium" "high -thorough"; do
  set -- $q
  expect_code 0 "astc encode 6x6 $1" -- "$bcfeat" codec encode pic.png "pic_$1.astc" --format astc_6x6 --quality $1
  astcenc -cl pic.png "tool_$1.astc" 6x6 $2 -silent >/dev/null 2>&1
  cmp -s "pic_$1.astc" "tool_$1.astc" && pass "astc $1 = astcenc $2: same file, same blocks" \
    || fail "astc $1 differs from astcenc $2"
done
expect_code 0 "astc decode (bcfeat) of astcenc's file" -- "$bcfeat" codec decode tool_normal.astc tool.npy
astcenc -dl pic_normal.astc tool_dec.png -silent >/dev/null 2>&1
/usr/bin/python3 -c "
import numpy as np, sys
from PIL import Image
ours = np.load('tool.npy'); tool = np.asarray(Image.open('tool_dec.png').convert('RGBA')).astype(np.float64)
sys.exit(0 if ours.shape == (45, 70, 4) and np.array_equal(np.rint(ours * 255), tool) else 1)" \
  && pass "astcenc -dl decodes bcfeat's .astc to bcfeat's own decode (8-bit)" || fail "astc decode differs from astcenc -dl"
expect_code 0 "astc decode with libastcenc" -- "$bcfeat" codec decode pic_normal.astc ref.npy --device reference
expect_code 0 "astc decode with bcfeat" -- "$bcfeat" codec decode pic_normal.astc own.npy
cmp -s ref.npy own.npy && pass "bcfeat and libastcenc decodes are identical files" || fail "astc decoders differ"
expect_code 0 "astc hdr encode 8x8" -- "$bcfeat" codec encode pic_hdr.npy h.astc --format astc_8x8 --profile hdr
expect_code 0 "astc hdr decode" -- "$bcfeat" codec decode h.astc h_astc.npy --profile hdr
/usr/bin/python3 -c "
import numpy as np, sys
a, b = np.load('pic_hdr.npy').astype(np.float64), np.load('h_astc.npy')[..., :3]
sys.exit(0 if np.sqrt(np.mean((a - b) ** 2) / np.mean(a ** 2)) < 0.1 else 1)" \
  && pass "astc hdr round trip within 10% (RMS) at 2 bits/texel" || fail "astc hdr round trip"
expect_code 0 "astc info" -- "$bcfeat" codec info h.astc
grep -q "astc_8x8" out.txt && grep -q "2.0000 bits/texel per block" out.txt && pass "astc info lists format and rate" \
  || fail "astc info: $(cat out.txt)"
expect_code 2 "astc ldr rejects values above 1" -- "$bcfeat" codec encode pic_hdr.npy x.astc --format astc_4x4
expect_code 2 "astc unknown profile" -- "$bcfeat" codec encode pic.png x.astc --format astc_4x4 --profile srgb
expect_code 2 "astc unknown quality" -- "$bcfeat" codec encode pic.png x.astc --format astc_4x4 --quality ultra
expect_code 2 "astc encode on cuda" -- "$bcfeat" codec encode pic.png x.astc --format astc_4x4 --device cuda
expect_code 2 "astc needs .astc output" -- "$bcfeat" codec encode pic.png x.dds --format astc_4x4
expect_code 2 "--profile on a BC format" -- "$bcfeat" codec encode pic.png x.dds --format bc1 --profile hdr
head -c 100 h.astc >trunc.astc
expect_code 2 "truncated .astc" -- "$bcfeat" codec decode trunc.astc t2.npy
grep -q "needs" err.txt && pass "truncated .astc message" || fail "truncated .astc message: $(cat err.txt)"
printf 'not an astc file' >junk.astc
expect_code 2 "not an .astc" -- "$bcfeat" codec info junk.astc
[ ! -e x.astc ] && [ ! -e t2.npy ] && pass "nothing written for bad ASTC input" || fail "bad ASTC input wrote output"

echo "$failures failures"
[ $failures = 0 ]
