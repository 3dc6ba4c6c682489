"""The DSL's mail: the weekly digest (sent exactly once per week) and same-day safeguarding alerts.

Pure parts (no I/O): ``model`` turns table rows into what the digest says, ``render`` and ``csvfile`` turn that
into a Graph ``message``. I/O parts: ``collect`` reads the stores, ``store`` holds the digests and alerts
tables, ``mail`` sends through Graph's ``sendMail``, ``scheduler`` and ``alerts`` decide when.
"""
