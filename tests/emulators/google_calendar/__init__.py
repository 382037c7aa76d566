"""Google Calendar API v3 emulator: real HTTP, stateful, with fault injection.

Start it with `GoogleEmulator().start()` (or as a context manager, or through the
`google_emulator` fixture in `fixtures.py`); see `server.GoogleEmulator` for the helpers.
"""

from .errors import ApiError
from .faults import Fault, Faults
from .server import GoogleEmulator, User
from .store import WriteRecord
from .watch import Delivery

__all__ = ["ApiError", "Delivery", "Fault", "Faults", "GoogleEmulator", "User", "WriteRecord"]
