"""The Microsoft 365 backend (kind "graph"): Microsoft Graph v1.0 over aiohttp, msal tokens."""
