"""Emulators of remote calendar services that speak the real wire protocols."""
