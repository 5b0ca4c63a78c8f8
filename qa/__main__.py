"""``python -m qa``: the same as the ``qa`` command."""
import sys

from qa.commands.main import main

sys.exit(main())
