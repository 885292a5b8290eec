"""Helpline: self-hosted live chat and service desk."""

__version__ = "0.1.0"
