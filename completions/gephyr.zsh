#compdef gephyr

_gephyr_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _GEPHYR_COMPLETE=complete_zsh gephyr)
}

compdef _gephyr_completion gephyr
