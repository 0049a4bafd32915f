# The README's promises: the two quick-start commands, and a config reference in sync with the key table.
. "$(dirname "$0")/../lib.sh"
R=$ROOT/README.md
grep -q '^make run ' "$R" && grep -q '^make test ' "$R" && ok "readme: quick start shows make run and make test" \
  || not_ok "readme: quick start" "make run / make test missing"
table=$("$CFGAN" help config --markdown)
section=$(sed -n '/<!-- config-keys:begin -->/,/<!-- config-keys:end -->/p' "$R" | sed '1d;$d')
[ "$table" = "$section" ] && ok "readme: config reference matches the key table" \
  || not_ok "readme: config reference" "stale: run tools/update-readme.sh"
for c in "$ROOT"/configs/*.yaml; do
  out=$("$CFGAN" data-info "$c" --data-root /nonexistent 2>&1)
  case $out in *"cannot open"*|config*) ok "configs: $(basename "$c") is a valid config" ;; *) not_ok "configs: $(basename "$c") is a valid config" "$out" ;; esac
done
