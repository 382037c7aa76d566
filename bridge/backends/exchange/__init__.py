"""The Exchange Server (EWS) backend: settings, wire, backend (see docs/architecture.md)."""
