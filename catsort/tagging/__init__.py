"""Tagging photos instead of moving them: catsort's keyword in XMP sidecars photo managers read."""
