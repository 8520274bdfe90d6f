"""Retention (PIPL): complainants' personal data removed once no longer needed, and a person's access and erasure
requests."""
