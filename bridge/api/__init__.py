"""The bridge's HTTP API (aiohttp): webhooks, health; REST for the CRM and metrics later."""
