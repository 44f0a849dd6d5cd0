"""``python -m garmentcli`` runs the ``garmentkp`` command."""

from garmentcli.cli.app import main

main()
