"""The `[logging]` table of the config file: how the bridge writes its log (to stderr).

```toml
[logging]
format = "human"      # "human" (the default): one readable line per record;
                      # "json": one JSON object per line (time, level, logger, message,
                      # binding, round, request_id; exception when there is one)
level = "info"        # debug | info | warning | error
```

Whatever the format and level, configured secrets never appear in a line
(bridge.log_setup replaces them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.config.validators import _choice, table_values


@dataclass(frozen=True)
class LoggingSettings:
    format: str = "human"
    level: str = "info"


_KEYS = {
    "format": _choice("human", "json"),
    "level": _choice("debug", "info", "warning", "error"),
}


def parse_logging(data: Any) -> LoggingSettings:
    """Validate the ``[logging]`` table (absent: human lines at info)."""
    return LoggingSettings(**table_values(data, "logging", _KEYS))
