"""The customer's progress page (/p/{token}): where a complaint stands, read through an unguessable link."""
