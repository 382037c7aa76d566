"""Google Calendar: the backend (backend), its wire (wire), HTTP and auth (http), batched
creates (batch) and its binding settings (settings)."""
