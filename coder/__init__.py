"""ksco-coder: code Korean free-text occupations to KSCO-7 (placeholder, filled in below)."""
