"""`python -m gephyr_cli`: the same as the `gephyr` command."""

from gephyr_cli.app import main

main()
