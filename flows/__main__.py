"""`python -m flows`: the `flows` command."""

from flows.cli import main

main()
