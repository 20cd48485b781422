"""Delivery: the inbox (webhook events stored, then processed once, in order) and the outbox
(messages to citizens stored, sent through their channel, marked sent, sent again after an outage).
Channels hand over their senders and the router its handler at wiring time (bot/app.py)."""
