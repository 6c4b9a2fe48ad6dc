"""File readers, one module per family of formats; each registers its readers with
``xlt.data.readers.reader`` and is found by the ``READERS`` registry (no import list to edit)."""
