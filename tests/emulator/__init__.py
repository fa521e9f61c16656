"""Local emulator of Entra ID login, Microsoft Graph, Dataverse and the Power Platform admin API.

Start it with ``python -m tests.emulator serve --state-dir DIR``; see README.md.
"""
