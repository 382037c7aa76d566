"""CalDAV (RFC 4791): the backend (backend), its wire (wire: VEVENT <-> RemoteEvent), the
WebDAV request bodies and answers (dav), change listing (listing) and its binding settings
(settings). The kind is registered in bridge.backends.kinds."""
