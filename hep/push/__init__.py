"""Web Push: browser subscriptions, the patient's reminder channel, and the adapter that sends a push."""
