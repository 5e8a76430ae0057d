"""``python -m relayml.cli``: the same as the ``relay`` command."""

from relayml.cli import main

main()
