"""Readers of local usage logs: each turns one file format into `UsageEvent`s."""
