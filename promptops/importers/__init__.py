"""Converters from other evaluation tools' projects into promptops projects."""
