"""``python -m strokealert`` is the ``strokealert`` command."""

from strokealert.cli import main

main()
