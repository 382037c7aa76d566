"""The CRM calendar bridge.

Importing the package makes vobject's time zones per object (bridge.vobject_zones): every
entry point - `bridge serve`, workers, Radicale loading our storage plugin - is covered
before it parses anything.
"""

from bridge.vobject_zones import isolate

isolate()
