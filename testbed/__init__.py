"""The project's plumbing, below ``zoo``, ``twin`` and ``hdap``: nothing here knows a network,
a device or a pruning method.

- ``testbed.errors``: ``InputError``, the one error type for bad user input;
- ``testbed.io``: all-or-nothing writes (``atomic_file``, ``atomic_dir``), run records, parquet streams;
- ``testbed.schema``: typed YAML sections whose errors name the file and the key path;
- ``testbed.streams``: named random streams spawned from one root seed;
- ``testbed.cli``: the argument types and the error contract both command lines share.
"""

from testbed.errors import InputError
from testbed.streams import Streams

__all__ = ["InputError", "Streams"]
