"""Kaytoo: a desktop voice assistant with a dry droid persona."""

__version__ = "0.1.0"
