"""The records every evaluation and every admin tool rely on: the consent register, standing exemptions, the
audit log, holds and retention (with subject access and erasure). The admin tools in ``shared/admin`` change
them; the pipeline reads them (consent while gathering, exemptions after recording, retention by its timer)."""
