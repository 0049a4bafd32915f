# `cfgan data-info` on the real CFGAN splits and raw MovieLens files.
. "$(dirname "$0")/../lib.sh"
need_data "data-info: real datasets" || exit 0
D=$(data_root)
check_json() { # NAME CONFIG PYTHON-CONDITION [ARGS]
  local name=$1 cfg=$2 cond=$3; shift 3
  local out
  out=$("$CFGAN" data-info "$ROOT/configs/$cfg" --data-root "$D" --json "$@" 2>&1) || { not_ok "$name" "$out"; return; }
  if /usr/bin/python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if ($cond) else 1)" "$out"; then ok "$name"
  else not_ok "$name" "$out"; fi
}
check_json "data-info: ML100K CFGAN split has 943 users, 1,653 items, 80,000 train and 19,963 test pairs" ml100k.yaml \
  "d['users']==943 and d['items']==1653 and d['train']==80000 and d['test']==19963 and d['cold_users']==0"
check_json "data-info: Ciao CFGAN split has 662 users, 1,347 items, 13,464 train and 3,357 test pairs" ciao.yaml \
  "d['users']==662 and d['items']==1347 and d['train']==13464 and d['test']==3357"
check_json "data-info: ML1M CFGAN split has 6,040 users, 3,706 items, 800,199 train and 200,010 test pairs" ml1m.yaml \
  "d['users']==6040 and d['items']==3706 and d['train']==800199 and d['test']==200010"
check_json "data-info: validation carved from ML100K training pairs" ml100k.yaml \
  "d['train']+d['validation']==80000 and 7000 < d['validation'] < 9000 and d['test']==19963" --set data.validation=0.1
printf 'data:\n  format: ml100k\n  train: ml-100k/u.data\n' > "$TMP/u.yaml"
out=$("$CFGAN" data-info "$TMP/u.yaml" --data-root "$D" --json)
if /usr/bin/python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['users']==943 and d['items']==1682 and d['interactions']==100000 and d['test']>0 else 1)" "$out"
then ok "data-info: raw u.data with a seeded per-user holdout"; else not_ok "data-info: raw u.data" "$out"; fi
a=$("$CFGAN" data-info "$TMP/u.yaml" --data-root "$D" --json); b=$("$CFGAN" data-info "$TMP/u.yaml" --data-root "$D" --json)
c=$("$CFGAN" data-info "$TMP/u.yaml" --data-root "$D" --json --set data.seed=99)
if [ "$a" = "$b" ] && [ "$a" != "$c" ]; then ok "data-info: the holdout split is repeatable and seeded"
else not_ok "data-info: holdout seeding" "$a / $c"; fi
printf 'data:\n  format: ml1m\n  train: ml-1m/ratings.dat\n  min_rating: 4\n' > "$TMP/m.yaml"
out=$("$CFGAN" data-info "$TMP/m.yaml" --data-root "$D" --json)
if /usr/bin/python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['interactions']==348971+226310 and d['below_threshold']==56174+107557+261197 else 1)" "$out"
then ok "data-info: ML-1M ratings >= 4 as positives (575,281 pairs)"; else not_ok "data-info: ML-1M threshold" "$out"; fi
printf 'data:\n  format: tsv\n  train: ciao/rating.tsv\n  user_col: 0\n  item_col: 1\n  rating_col: 3\n  min_rating: 1\n' > "$TMP/c.yaml"
out=$("$CFGAN" data-info "$TMP/c.yaml" --data-root "$D" --json)
if /usr/bin/python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['below_threshold']==34 and d['users']<=7375 and d['interactions']<=282650 else 1)" "$out"
then ok "data-info: raw Ciao TSV with zero ratings filtered and repeats collapsed"; else not_ok "data-info: raw Ciao" "$out"; fi
