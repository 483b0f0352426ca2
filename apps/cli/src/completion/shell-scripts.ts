/**
 * The scripts `shoalctl completion bash|zsh` prints. Each asks shoalctl itself what may come
 * next (`shoalctl --get-yargs-completions WORDS...`, answered by complete-words.ts), so the
 * script never goes stale as commands and flags change. SHELL is set for that call because
 * yargs formats its answer for the shell it believes it serves (zsh gets descriptions).
 */
export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

const BASH = `# shoalctl completion for bash.
# Install: shoalctl completion bash > /etc/bash_completion.d/shoalctl
#      or: echo 'source <(shoalctl completion bash)' >> ~/.bashrc
_shoalctl_completions() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  local candidates
  candidates="$(SHELL=bash shoalctl --get-yargs-completions "\${COMP_WORDS[@]:0:COMP_CWORD+1}" 2>/dev/null)"
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
complete -o default -F _shoalctl_completions shoalctl
`;

const ZSH = `#compdef shoalctl
# shoalctl completion for zsh.
# Install: shoalctl completion zsh > "\${fpath[1]}/_shoalctl"   (then start a new shell)
#      or: echo 'source <(shoalctl completion zsh)' >> ~/.zshrc   (after compinit)
_shoalctl() {
  local -a candidates
  candidates=(\${(f)"$(SHELL=zsh shoalctl --get-yargs-completions "\${(@)words[1,CURRENT]}" 2>/dev/null)"})
  if (( \${#candidates} )); then
    _describe 'shoalctl' candidates
  else
    _default
  fi
}
if [[ "\${zsh_eval_context[-1]}" == "loadautofunc" ]]; then
  _shoalctl "$@"
else
  compdef _shoalctl shoalctl
fi
`;

export function completionScript(shell: CompletionShell): string {
  return shell === 'zsh' ? ZSH : BASH;
}
