"""Commands that judge the North Star: check, candidates."""
