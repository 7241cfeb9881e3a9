# bash completion for flavourgraph(1), installed as share/bash-completion/completions/flavourgraph.
# Self-contained (it needs no bash-completion helpers). The options of each command are those of
# `flavourgraph COMMAND --help`; tests/install/check_completion.py checks that they stay so.

# The options of a command ("values revert" is one command).
_flavourgraph_options() {
  local select='-c --config -d --deployments --only --release --stage --scope --all-flavours
    --clusters --timestamp --registry --set --latest-tag --engine --push --no-push --atomic'
  case $1 in
    '') echo '-h --help -V --version' ;;
    plan) echo "-h --help $select --format" ;;
    build) echo "-h --help $select -j --jobs --push-jobs -k --keep-going --progress --metadata-file
      --trace --simulate --fail --store --state-dir --values-dir --no-cache --ignore-published
      --report-format --prune --full --previous-report --max-layers --max-delta --explain
      --allow-detached --insecure-registry --ca-bundle --retries" ;;
    render) echo '-h --help -d --deployments --report -c --images --registry --values-dir --stage
      --scope --clusters --state-dir --prune --allow-detached' ;;
    values) echo '-h --help' ;;
    'values revert') echo '-h --help --values-dir --state-dir' ;;
    gc) echo '-h --help --store --state-dir --values-dir --keep --dry-run --registry
      --insecure-registry --ca-bundle --retries' ;;
  esac
}

# What the value of option $2 of command $1 completes to: a word list, "@file", "@dir", or
# "@none" for a free value; nothing when the option takes no value.
_flavourgraph_value() {
  case $2 in
    --format) echo 'text json dot' ;;
    --progress) echo 'auto tty plain json quiet' ;;
    --stage) echo 'testservers canaries production' ;;
    --report-format) echo 'v3 v2' ;;
    -c | --config | --images | -d | --deployments | --report | --metadata-file | --trace | \
      --previous-report | --ca-bundle) echo '@file' ;;
    --store | --state-dir | --values-dir) echo '@dir' ;;
    --only | --release | --scope | --clusters | --timestamp | --registry | --set | --latest-tag | --engine | \
      -j | --jobs | --push-jobs | --simulate | --fail | --max-layers | --max-delta | \
      --insecure-registry | --retries | --keep) echo '@none' ;;
  esac
}

_flavourgraph() {
  COMPREPLY=()
  local cur=${COMP_WORDS[COMP_CWORD]} prev='' cmd='' i
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  # --opt=value: bash splits it at '=' (COMP_WORDBREAKS), into --opt, '=' and the value.
  if [[ $cur == '=' ]]; then
    cur=''
  elif [[ $prev == '=' ]] && ((COMP_CWORD > 1)); then
    prev=${COMP_WORDS[COMP_CWORD - 2]}
  fi
  if [[ $cur == --*=* ]]; then  # when '=' is not a word break
    prev=${cur%%=*}
    cur=${cur#*=}
  fi

  # The command: the first word that is not an option (the program's own options take no value).
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      -*) ;;
      values)
        cmd=values
        ((i + 1 < COMP_CWORD)) && [[ ${COMP_WORDS[i + 1]} == revert ]] && cmd='values revert'
        break
        ;;
      *)
        cmd=${COMP_WORDS[i]}
        break
        ;;
    esac
  done

  if [[ -n $cmd ]]; then
    case $(_flavourgraph_value "$cmd" "$prev") in
      '') ;;
      @file)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return 0
        ;;
      @dir)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        return 0
        ;;
      @none) return 0 ;;
      *)
        mapfile -t COMPREPLY < <(compgen -W "$(_flavourgraph_value "$cmd" "$prev")" -- "$cur")
        return 0
        ;;
    esac
  fi

  local words
  if [[ -z $cmd && $cur != -* ]]; then
    words='plan build render values gc'
  elif [[ $cmd == values && $cur != -* ]]; then
    words='revert'
  else
    words=$(_flavourgraph_options "$cmd")
  fi
  mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
  return 0
}

complete -F _flavourgraph flavourgraph
