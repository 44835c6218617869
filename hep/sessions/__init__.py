"""Needling (IMS) appointments and the patient's calendar feed."""
