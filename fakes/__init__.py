"""Fakes of the outside services HEP talks to, on 127.0.0.1, shared by the tests and the benchmarks.

twilio.py is a fake Twilio REST API (messages, faults, signed status callbacks, inbound texts);
push.py is a fake Web Push service (checks the VAPID signature, decrypts each message).
"""
