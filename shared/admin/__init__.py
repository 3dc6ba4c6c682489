"""The admin tools' logic: querying and annotating findings and the meeting log, standing exemptions, the
consent register, holds, data rights (subject access, erasure), retention, and the audit of every action.

Pure and typed; the ``vcaudit`` subcommands (``shared/commands``) and the HTTP blueprint
(``functions/admin_api.py``) are thin layers over it. Every table query is parameterised (``@name``
placeholders), never built by concatenating what a user typed.
"""
