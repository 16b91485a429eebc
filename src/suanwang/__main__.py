"""`python -m suanwang`: the command line, as the `suanwang` script runs it."""

from suanwang.cli import main

main()
