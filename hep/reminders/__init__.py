"""Reminders: SMS between needling sessions."""
