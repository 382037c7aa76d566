"""Calendar backends: each translates one service's wire to RemoteEvent and back.

bridge.backends.base is the seam's vocabulary; bridge.backends.kinds the registry of kinds;
one package per kind (google/, caldav/).
"""
