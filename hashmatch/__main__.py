"""``python -m hashmatch``: the same as the ``hashmatch`` command."""

from hashmatch.cli import main

main()
