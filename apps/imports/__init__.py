"""Imports of members, uplines and opening balances (a team moving to Conveyor brings them)."""
