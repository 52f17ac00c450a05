"""Starts bqemulator for Larder's tests, without reaching for the network.

bqemulator insists on DuckDB's spatial extension (for GEOGRAPHY) and downloads it from
DuckDB's extension site at startup; that site is unreachable here, and Larder never uses
GEOGRAPHY. We skip that one step and forbid DuckDB from auto-installing extensions, so a
query that would need one fails loudly instead of trying the network. Everything else is
bqemulator's own command line (`start --help`).
"""

import sys

from bqemulator.storage import engine


def _forbid_extension_downloads(self):
    self._connection.execute("SET autoinstall_known_extensions = false")


engine.DuckDBEngine._load_spatial = _forbid_extension_downloads

from bqemulator.cli import main  # noqa: E402  (after the patch, on purpose)

sys.exit(main())
