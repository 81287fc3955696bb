"""Assembler placeholder."""
