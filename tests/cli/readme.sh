# The README's promises: at most 15,000 characters, every command in its ```sh blocks runs as written
# (long trainings for 4 epochs, `cfgan` from build/ on the PATH, in a scratch copy of the tree's
# layout), docs/configuration.md in sync with the key table, every shipped config valid.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tools/mpi-env.sh" 8
R=$ROOT/README.md
n=$(wc -c < "$R")
[ "$n" -le 15000 ] && ok "readme: README.md has $n characters (at most 15,000)" || not_ok "readme: length" "$n characters"

# a scratch directory laid out like the repository; data -> the data root when there is one
S=$TMP/tree; mkdir -p "$S"
for d in build configs tools jobs; do ln -s "$ROOT/$d" "$S/$d"; done
D=$(data_root) && ln -s "$D" "$S/data"
export PATH=$ROOT/build:$PATH
awk '/^```sh$/{on=1; next} /^```$/{on=0} on' "$R" | sed 's/  *#.*$//' | sed 's/ && /\n/g' | grep -v '^$' > "$TMP/commands"
[ "$(wc -l < "$TMP/commands")" -ge 10 ] || not_ok "readme: commands" "only $(wc -l < "$TMP/commands") found"
while IFS= read -r c <&3; do
  case $c in
    "make run"|"make test"|"make test-only") # the suite itself runs from make test: check the target
      make -C "$ROOT" -n "${c#make }" > /dev/null 2>&1 && ok "readme: '$c' is a make target" || not_ok "readme: $c" "no such target" ;;
    make\ *) # the cluster build, into a scratch build directory
      (cd "$ROOT" && eval "$c BUILD=$TMP/build-vars $TMP/build-vars/cfgan -j2" > "$TMP/make.log" 2>&1) && [ -x "$TMP/build-vars/cfgan" ] \
        && ok "readme: '$c' builds" || not_ok "readme: $c" "$(tail -3 "$TMP/make.log")" ;;
    tools/download-data.sh*) # needs the internet, which tests do not have: the script parses
      bash -n "$ROOT/tools/download-data.sh" && [ -x "$ROOT/tools/download-data.sh" ] \
        && ok "readme: '$c' is an executable script (downloads are not tested here)" || not_ok "readme: $c" "bad script" ;;
    tools/prepare-data.sh*) # run on the public files by tests/cli/prepare_data.sh
      bash -n "$ROOT/tools/prepare-data.sh" && [ -x "$ROOT/tools/prepare-data.sh" ] \
        && ok "readme: '$c' is an executable script (run by prepare_data.sh)" || not_ok "readme: $c" "bad script" ;;
    sbatch\ *) # run by make test-slurm on a real SLURM
      job=$(grep -o 'jobs/[^ ]*\.sbatch' <<<"$c")
      [ -n "$job" ] && bash -n "$ROOT/$job" && ok "readme: '$c': the job script parses (make test-slurm runs it)" \
        || not_ok "readme: $c" "bad script" ;;
    *cfgan\ *)
      if [[ $c == *--data-root* || $c == *ml1m* ]] && ! need_data "readme: '$c'"; then continue; fi
      extra=(); [[ $c == *" train "* && $c != *demo.yaml* ]] && extra=(--set train.epochs=4)
      (cd "$S" && eval "$c ${extra[*]}" > "$TMP/cmd.log" 2>&1) \
        && ok "readme: '$c' runs${extra:+ (for 4 epochs)}" || not_ok "readme: $c" "$(tail -3 "$TMP/cmd.log")" ;;
    *) not_ok "readme: $c" "a command this test does not know how to check" ;;
  esac
done 3< "$TMP/commands"

# the configuration reference is generated from the key table
[ "$("$CFGAN" help config --markdown)" = "$(sed -n '/^| key |/,$p' "$ROOT/docs/configuration.md")" ] \
  && ok "readme: docs/configuration.md matches cfgan help config --markdown" \
  || not_ok "readme: docs/configuration.md" "stale: run tools/update-docs.sh"
for c in "$ROOT"/configs/*.yaml; do
  out=$("$CFGAN" data-info "$c" --data-root /nonexistent 2>&1)
  case $out in *"cannot open"*|config*) ok "configs: $(basename "$c") is a valid config" ;; *) not_ok "configs: $(basename "$c") is a valid config" "$out" ;; esac
done
