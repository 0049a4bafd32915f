# Sourced first (with the script's arguments) by the shell tools a user runs: --help prints the
# comment at the top of the script; any other option is a mistake, since their arguments are paths.
case ${1:-} in
  -h|--help) sed -n '2,/^set -/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
  -*) echo "$0: unknown option '$1' (usage: $0 --help)" >&2; exit 2 ;;
esac
