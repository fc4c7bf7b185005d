"""Analyses over computed series: pure functions of frames, no engine."""
