# tools/prepare-data.sh on a data root holding only public files (what tools/download-data.sh
# fetches): it must rebuild the project's ML1M.train and Ciao TSV exactly, and every config must
# then load.
. "$(dirname "$0")/../lib.sh"
need_data "prepare-data: real datasets" || exit 0
D=$(data_root)
PREP=$ROOT/tools/prepare-data.sh
public="ml-1m/ratings.dat ml-1m/movies.dat ml-1m/users.dat cfgan/ML100K/ML100K.train cfgan/ML100K/ML100K.test
        cfgan/Ciao/Ciao.train cfgan/Ciao/Ciao.test cfgan/ML1M/ML1M.test ciao/rating.mat"
for f in $public cfgan/ML1M/ML1M.train ciao/rating.tsv; do
  [ -s "$D/$f" ] && continue
  skip "prepare-data: real datasets" "$D/$f missing"
  exit 0
done
# public_root DIR: the public files as symlinks into the real data root, in directories of DIR's own
public_root() {
  local f
  for f in $public; do mkdir -p "$1/$(dirname "$f")"; ln -s "$D/$f" "$1/$f"; done
  ln -s "$D/ml-100k" "$1/ml-100k"
}
# one_error NAME REGEX CMD...: the command fails with one stderr line matching REGEX
one_error() {
  local name=$1 re=$2 err; shift 2
  if "$@" > /dev/null 2> "$TMP/err"; then not_ok "$name" "succeeded"; return; fi
  err=$(cat "$TMP/err")
  if [ "$(wc -l < "$TMP/err")" = 1 ] && grep -Eq -- "$re" <<<"$err"; then ok "$name"; else not_ok "$name" "$err"; fi
}
no_partial() { [ -z "$(find "$1" -name '*.partial')" ]; }

P=$TMP/public
public_root "$P"
rm "$P/ciao/rating.mat"
one_error "prepare-data: a missing input stops it with one line naming the file and the fix" \
  "^error: $P/ciao/rating\.mat: missing: run tools/download-data\.sh" "$PREP" "$P"
ln -s "$D/ciao/rating.mat" "$P/ciao/rating.mat"
"$PREP" "$P" > "$TMP/run2" 2>&1 || not_ok "prepare-data: runs on the public files" "$(cat "$TMP/run2")"
if /usr/bin/python3 - "$P/cfgan/ML1M/ML1M.train" "$D/cfgan/ML1M/ML1M.train" <<'PY'
import sys
a, b = ({tuple(map(int, l.split()[:2])) for l in open(p)} for p in sys.argv[1:])
sys.exit(0 if a == b and len(a) == 800199 else f"{len(a - b)} pairs extra, {len(b - a)} missing")
PY
then ok "prepare-data: ML1M.train from ratings.dat and ML1M.test has the project's 800,199 pairs"
else not_ok "prepare-data: ML1M.train pairs" "differ"; fi
check "prepare-data: ML1M.train equals the project's byte for byte" cmp -s "$P/cfgan/ML1M/ML1M.train" "$D/cfgan/ML1M/ML1M.train"
check "prepare-data: ciao/rating.tsv from rating.mat equals the project's byte for byte" \
  cmp -s "$P/ciao/rating.tsv" "$D/ciao/rating.tsv"
stamp() { stat -c '%i %Y %s' "$P/cfgan/ML1M/ML1M.train" "$P/ciao/rating.tsv"; }
before=$(stamp)
if "$PREP" "$P" > "$TMP/run3" 2>&1 && [ "$(grep -c 'already built' "$TMP/run3")" = 2 ] && [ "$(stamp)" = "$before" ] && no_partial "$P"
then ok "prepare-data: a second run leaves both outputs untouched"
else not_ok "prepare-data: second run" "$(cat "$TMP/run3")"; fi

# The GroupLens ratings.dat has a timestamp on every line and another line order: same result.
# An output that is not the expected file is never overwritten.
T=$TMP/stamped
public_root "$T"
rm "$T/ml-1m/ratings.dat"
awk '{print $0 "::" 978300000 + NR}' "$D/ml-1m/ratings.dat" | tac > "$T/ml-1m/ratings.dat"
echo "someone's own file" > "$T/ciao/rating.tsv"
one_error "prepare-data: refuses to overwrite an output it did not make" \
  "^error: $T/ciao/rating\.tsv: exists but is not the expected file .*: move it aside" "$PREP" "$T"
check "prepare-data: ratings.dat with timestamps, in another order, gives the same ML1M.train" \
  cmp -s "$T/cfgan/ML1M/ML1M.train" "$D/cfgan/ML1M/ML1M.train"
check "prepare-data: the refused output is left as it was" grep -qx "someone's own file" "$T/ciao/rating.tsv"

# One rating changed in ratings.dat: on a training pair the sha256 check refuses the result; on a
# test pair the test file no longer embeds. Neither leaves a file behind.
B=$TMP/bad
public_root "$B"
rm "$B/ml-1m/ratings.dat"
sed '1s/^1::1::5$/1::1::1/' "$D/ml-1m/ratings.dat" > "$B/ml-1m/ratings.dat" # (1, 1) is a training pair
one_error "prepare-data: a result with the wrong sha256 is reported and not kept" \
  "^error: $B/cfgan/ML1M/ML1M\.train: the result's sha256 is [0-9a-f]{64}, expected" "$PREP" "$B"
sed '2s/^1::48::5$/1::48::1/' "$D/ml-1m/ratings.dat" > "$B/ml-1m/ratings.dat" # (1, 48) is a test pair
one_error "prepare-data: ratings that contradict ML1M.test are reported" \
  "^error: $B/cfgan/ML1M/ML1M\.test:[0-9]+: not a rating of $B/ml-1m/ratings\.dat under the id maps" "$PREP" "$B"
check "prepare-data: nothing is left behind after a failure" \
  eval '[ ! -e "$B/cfgan/ML1M/ML1M.train" ] && no_partial "$B"'

# Every shipped config loads from the prepared public root.
for cfg in "$ROOT"/configs/*.yaml; do
  name="prepare-data: cfgan data-info $(basename "$cfg") on the public files"
  if out=$("$CFGAN" data-info "$cfg" --data-root "$P" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi
done
