"""Sub-commands of the ``qa`` CLI, one module each."""
