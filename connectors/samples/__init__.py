"""Synthetic multi-agency sample databases (mediation, arbitration, court, inspection) with cross-agency journeys and
ground truth."""
