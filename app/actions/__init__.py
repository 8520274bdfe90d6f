"""Corrective actions (改善对策): what the company does about a recurring cause of complaints, and its effect."""
